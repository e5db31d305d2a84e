// Where certificates live under the home (docs/https.md): `certs/<app>/<id>/`
// holds `cert.pem` (the chain), `key.pem` and `meta.json`; `certs/acme/`
// holds the ACME account key. Folders are 0700, files 0600, each written to a
// temporary name and renamed, so a reader never sees half a key.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface CertMeta {
  readonly source: 'own' | 'acme';
  /** Own certificates: the one hostname it was added for (`--domain`); null: every hostname it covers. */
  readonly domain?: string | null;
  /** ACME certificates: the hostname it is for. */
  readonly hostname?: string;
  readonly addedAt: string;
  /** ACME: the last attempt's error (null once one succeeded), when it was, and when the next one is due. */
  readonly lastError?: string | null;
  readonly lastAttemptAt?: string | null;
  readonly failures?: number;
  readonly nextAttemptAt?: string | null;
}

export interface CertEntry {
  readonly app: string;
  readonly id: string;
  readonly meta: CertMeta;
  /** Absent while an ACME certificate has not been obtained yet. */
  readonly cert: string | undefined;
  readonly key: string | undefined;
}

/** Writes a secret file (0600) atomically, its folders (0700) first. */
export function writeSecret(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, data, { mode: 0o600 });
  fs.chmodSync(temp, 0o600);
  fs.renameSync(temp, file);
}

/** The folder of the API's own ACME certificate (`--api-domain`), beside the apps' (no app name starts with `_`). */
export const API_FOLDER = '_api';

export function certFiles(root: string) {
  const dirOf = (app: string, id: string) => path.join(root, app, id);
  const readIfThere = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const read = (app: string, id: string): CertEntry | undefined => {
    const dir = dirOf(app, id);
    const meta = readIfThere(path.join(dir, 'meta.json'));
    if (meta === undefined) return undefined;
    return {
      app,
      id,
      meta: JSON.parse(meta) as CertMeta,
      cert: readIfThere(path.join(dir, 'cert.pem')),
      key: readIfThere(path.join(dir, 'key.pem')),
    };
  };
  const subdirs = (dir: string) => {
    try {
      return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  return {
    root,
    accountKeyFile: path.join(root, 'acme', 'account.key'),
    read,
    list(app: string): CertEntry[] {
      return subdirs(path.join(root, app)).flatMap((id) => read(app, id) ?? []);
    },
    apps(): string[] {
      return subdirs(root).filter((name) => name !== 'acme' && name !== API_FOLDER);
    },
    /** The chain and key first, the meta last: an entry with a meta is whole. */
    save(app: string, id: string, meta: CertMeta, pems?: { cert: string; key: string }): void {
      const dir = dirOf(app, id);
      if (pems !== undefined) {
        writeSecret(path.join(dir, 'key.pem'), pems.key);
        writeSecret(path.join(dir, 'cert.pem'), pems.cert);
      }
      writeSecret(path.join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    },
    remove(app: string, id: string): boolean {
      const dir = dirOf(app, id);
      if (!fs.existsSync(dir)) return false;
      fs.rmSync(dir, { recursive: true, force: true });
      return true;
    },
    removeApp(app: string): void {
      fs.rmSync(path.join(root, app), { recursive: true, force: true });
    },
  };
}

export type CertFiles = ReturnType<typeof certFiles>;
