/**
 * A statement that stops a version's transaction when `index` is left
 * invalid by a CREATE INDEX CONCURRENTLY that failed (the version's `online`
 * step, or a DBA's): `IF NOT EXISTS` would otherwise keep the broken index
 * silently.
 */
export function refuseInvalidIndex(schema: string, index: string): string {
  return `DO $$ BEGIN
       IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('${schema}.${index}') AND NOT indisvalid) THEN
         RAISE EXCEPTION 'nest-oban: index ${schema.replace(/"/g, '')}.${index} is invalid (a CREATE INDEX CONCURRENTLY that failed); drop it and migrate again';
       END IF;
     END $$`;
}
