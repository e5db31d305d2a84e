// Deployments and their step timeline. The queue lives here (status `queued`,
// FIFO by created_at then insertion `seq`), so a restart never loses it.

import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { SlipwayError } from '../core/errors.ts';
import { type DeploymentStatus, FINAL_STATUSES, type Step } from '../core/lifecycle.ts';
import type { Deployment, DeploymentKind, StepRecord } from '../core/types.ts';
import { inTransaction, rethrowMissingApp } from './db-errors.ts';
import type { Database, DeploymentStepsTable, DeploymentsTable } from './schema.ts';
import type { DeploymentPatch, Store } from './types.ts';

type Row = Selectable<DeploymentsTable>;
type Updates = Partial<Omit<DeploymentsTable, 'seq' | 'id' | 'app'>>;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `d-` + 12 base32 chars (60 random bits); 256 is a multiple of 32, so no bias. */
function newDeploymentId(): string {
  return `d-${Array.from(randomBytes(12), (b) => BASE32[b & 31]).join('')}`;
}

function toDeployment(row: Row, steps: readonly StepRecord[]): Deployment {
  return {
    id: row.id,
    app: row.app,
    kind: row.kind as DeploymentKind,
    status: row.status as DeploymentStatus,
    step: row.step as Step | null,
    source: row.source,
    gitRef: row.git_ref,
    commitSha: row.commit_sha,
    releaseVersion: row.release_version,
    runHook: row.run_hook !== 0,
    author: row.author,
    hook:
      row.hook_command === null
        ? null
        : { command: row.hook_command, source: row.hook_source ?? '', exitCode: row.hook_exit_code },
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    steps,
  };
}

function toStep(row: Selectable<DeploymentStepsTable>): StepRecord {
  return { name: row.name as Step, startedAt: row.started_at, finishedAt: row.finished_at };
}

/** Only the fields present in the patch become column updates. */
function toUpdates(patch: DeploymentPatch): Updates {
  const u: Updates = {};
  if (patch.status !== undefined) u.status = patch.status;
  if (patch.step !== undefined) u.step = patch.step;
  if (patch.commitSha !== undefined) u.commit_sha = patch.commitSha;
  if (patch.releaseVersion !== undefined) u.release_version = patch.releaseVersion;
  if (patch.finishedAt !== undefined) u.finished_at = patch.finishedAt;
  if (patch.hook !== undefined) {
    u.hook_command = patch.hook?.command ?? null;
    u.hook_source = patch.hook?.source ?? null;
    u.hook_exit_code = patch.hook?.exitCode ?? null;
  }
  if (patch.error !== undefined) {
    u.error_code = patch.error?.code ?? null;
    u.error_message = patch.error?.message ?? null;
  }
  return u;
}

function notFound(id: string): SlipwayError {
  return new SlipwayError('deployment.not_found', `deployment "${id}" not found`, { deployment: id });
}

export function deploymentsRepo(db: Kysely<Database>): Store['deployments'] {
  /** Attaches each deployment's steps, ordered by start, in one query. */
  async function withSteps(rows: readonly Row[]): Promise<Deployment[]> {
    if (rows.length === 0) return [];
    const stepRows = await db
      .selectFrom('deployment_steps')
      .selectAll()
      .where(
        'deployment_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('started_at')
      .orderBy('seq')
      .execute();
    const byDeployment = new Map<string, StepRecord[]>();
    for (const s of stepRows) {
      const list = byDeployment.get(s.deployment_id) ?? [];
      list.push(toStep(s));
      byDeployment.set(s.deployment_id, list);
    }
    return rows.map((r) => toDeployment(r, byDeployment.get(r.id) ?? []));
  }

  async function get(id: string): Promise<Deployment | undefined> {
    const row = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : (await withSteps([row]))[0];
  }

  return {
    async create(d) {
      try {
        const row = await db
          .insertInto('deployments')
          .values({
            id: newDeploymentId(),
            app: d.app,
            kind: d.kind,
            status: 'queued',
            step: null,
            source: d.source,
            git_ref: d.gitRef ?? null,
            commit_sha: d.commitSha ?? null,
            release_version: d.releaseVersion ?? null,
            run_hook: d.kind === 'config' || d.runHook === false ? 0 : 1,
            author: d.author ?? null,
            created_at: new Date().toISOString(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toDeployment(row, []);
      } catch (err) {
        return rethrowMissingApp(err, d.app);
      }
    },

    get,

    async list(app, limit = 50) {
      const rows = await db
        .selectFrom('deployments')
        .selectAll()
        .where('app', '=', app)
        .orderBy('created_at', 'desc')
        .orderBy('seq', 'desc')
        .limit(limit)
        .execute();
      return withSteps(rows);
    },

    async update(id, patch) {
      const updates = toUpdates(patch);
      if (Object.keys(updates).length > 0) {
        const result = await db.updateTable('deployments').set(updates).where('id', '=', id).executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw notFound(id);
      }
      const fresh = await get(id);
      if (fresh === undefined) throw notFound(id);
      return fresh;
    },

    async startStep(id, step, at) {
      await inTransaction(db, async (trx) => {
        const result = await trx.updateTable('deployments').set({ step }).where('id', '=', id).executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw notFound(id);
        await trx
          .updateTable('deployment_steps')
          .set({ finished_at: at })
          .where('deployment_id', '=', id)
          .where('finished_at', 'is', null)
          .execute();
        await trx.insertInto('deployment_steps').values({ deployment_id: id, name: step, started_at: at }).execute();
      });
    },

    async finishStep(id, step, at) {
      // Idempotent: finishing a step that is already finished changes nothing.
      await db
        .updateTable('deployment_steps')
        .set({ finished_at: at })
        .where('deployment_id', '=', id)
        .where('name', '=', step)
        .where('finished_at', 'is', null)
        .execute();
    },

    async abortQueued(id, error, at) {
      const result = await db
        .updateTable('deployments')
        .set({ status: 'aborted', error_code: error.code, error_message: error.message, finished_at: at })
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      return result.numUpdatedRows === 0n ? undefined : get(id);
    },

    async latestOfEachApp() {
      const rows = await db
        .selectFrom('deployments as d')
        .innerJoin(
          (eb) =>
            eb
              .selectFrom('deployments')
              .select(['app', (e) => e.fn.max('seq').as('seq')])
              .groupBy('app')
              .as('m'),
          (join) => join.onRef('m.seq', '=', 'd.seq'),
        )
        .select(['d.app', 'd.id', 'd.status', 'd.created_at'])
        .execute();
      return new Map(
        rows.map((r) => [r.app, { id: r.id, status: r.status as DeploymentStatus, createdAt: r.created_at }]),
      );
    },

    async nextQueued(app) {
      const row = await db
        .selectFrom('deployments')
        .selectAll()
        .where('app', '=', app)
        .where('status', '=', 'queued')
        .orderBy('created_at')
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : (await withSteps([row]))[0];
    },

    async listUnfinished() {
      const rows = await db
        .selectFrom('deployments')
        .selectAll()
        .where('status', 'not in', [...FINAL_STATUSES])
        .orderBy('created_at')
        .orderBy('seq')
        .execute();
      return withSteps(rows);
    },

    async hasSucceeded(app) {
      const row = await db
        .selectFrom('deployments')
        .select('id')
        .where('app', '=', app)
        .where('kind', '!=', 'config')
        .where('status', '=', 'success')
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}
