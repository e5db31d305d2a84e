// API tokens, stored only as hashes (hashing is the caller's job, in api/auth).

import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

export function tokensRepo(db: Kysely<Database>): Store['tokens'] {
  return {
    async create(name, hash) {
      await db.insertInto('tokens').values({ hash, name, created_at: new Date().toISOString() }).execute();
    },

    async findByHash(hash) {
      return db.selectFrom('tokens').select('name').where('hash', '=', hash).executeTakeFirst();
    },

    async count() {
      const { n } = await db
        .selectFrom('tokens')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      return Number(n);
    },
  };
}
