import type { MigrationInterface, QueryRunner } from 'typeorm';
import { downV1, upV1 } from './v1';
import { downV2, upV2 } from './v2';
import { downV3, onlineV3, upV3 } from './v3';
import { downV4, upV4 } from './v4';
import { downV5, onlineV5, upV5 } from './v5';
import { downV6, upV6 } from './v6';
import { downV7, upV7 } from './v7';
import { downV8, upV8 } from './v8';
import { downV9, onlineV9, upV9 } from './v9';

/**
 * nest-oban's schema versions. Each version's SQL is idempotent, so running a
 * version twice (say by `migrate: true` and by the app's own TypeORM
 * migrations) is harmless. The version reached is kept as the comment of
 * `oban_jobs`, as Oban does.
 */
export interface ObanSchemaVersion {
  version: number;
  up(schema: string): string[];
  down(schema: string): string[];
  /**
   * Statements doing the slow part of `up` without blocking writes (CREATE
   * INDEX CONCURRENTLY), each on its own outside any transaction. migrate()
   * runs them first on a large table; `up` then finds their work done.
   */
  online?(schema: string): string[];
}

export const OBAN_SCHEMA_VERSIONS: readonly ObanSchemaVersion[] = [
  { version: 1, up: upV1, down: downV1 },
  { version: 2, up: upV2, down: downV2 },
  { version: 3, up: upV3, down: downV3, online: onlineV3 },
  { version: 4, up: upV4, down: downV4 },
  { version: 5, up: upV5, down: downV5, online: onlineV5 },
  { version: 6, up: upV6, down: downV6 },
  { version: 7, up: upV7, down: downV7 },
  { version: 8, up: upV8, down: downV8 },
  { version: 9, up: upV9, down: downV9, online: onlineV9 },
];

export const OBAN_SCHEMA_VERSION = OBAN_SCHEMA_VERSIONS.length;

type Runner = { query(sql: string): Promise<unknown> };

export function quoteSchema(prefix: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new Error(`nest-oban: prefix ${JSON.stringify(prefix)} is not a plain schema name (letters, digits, '_')`);
  }
  return `"${prefix}"`;
}

export async function applyVersionUp(runner: Runner, version: ObanSchemaVersion, prefix: string): Promise<void> {
  const schema = quoteSchema(prefix);
  for (const sql of version.up(schema)) await runner.query(sql);
  await runner.query(`COMMENT ON TABLE ${schema}.oban_jobs IS '${version.version}'`);
}

export async function applyVersionDown(runner: Runner, version: ObanSchemaVersion, prefix: string): Promise<void> {
  const schema = quoteSchema(prefix);
  for (const sql of version.down(schema)) await runner.query(sql);
  if (version.version > 1) await runner.query(`COMMENT ON TABLE ${schema}.oban_jobs IS '${version.version - 1}'`);
}

/**
 * TypeORM migration classes, one per schema version, for an app that runs its
 * own migrations:
 *
 *   new DataSource({ ..., migrations: [...obanMigrations()] })
 *
 * Pass the same `prefix` (schema) as to `ObanModule.forRoot()` if not `public`.
 */
export function obanMigrations(prefix = 'public'): Array<new () => MigrationInterface> {
  quoteSchema(prefix);
  const suffix = prefix === 'public' ? '' : `_${prefix}`;
  return OBAN_SCHEMA_VERSIONS.map((version) => {
    // TypeORM orders migrations by the 13-digit timestamp ending the name.
    const name = `ObanV${version.version}${suffix}${1732406400000 + version.version}`;
    return class implements MigrationInterface {
      name = name;
      async up(queryRunner: QueryRunner): Promise<void> {
        await applyVersionUp(queryRunner, version, prefix);
      }
      async down(queryRunner: QueryRunner): Promise<void> {
        await applyVersionDown(queryRunner, version, prefix);
      }
    };
  });
}
