import { embeddedTypeOrmOptions } from '../lib';
import { behaviourSuite } from './support/behaviour';
import { DATABASE_URL, TestSchema } from './support/db';

// The same behaviours on a Postgres server and on embedded PGlite.

behaviourSuite('PostgreSQL', async () => {
  const schema = new TestSchema('behaviour');
  return {
    oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true },
    typeorm: { type: 'postgres', url: DATABASE_URL, schema: schema.prefix },
    cleanup: () => schema.drop(),
  };
});

behaviourSuite('embedded PGlite', async () => {
  const dataDir = 'memory://behaviour';
  return {
    oban: { pglite: { dataDir } }, // no connection: PGlite, migrated at boot
    typeorm: embeddedTypeOrmOptions({ dataDir }),
    cleanup: async () => undefined,
  };
});
