/**
 * Writes `schema/experiment.schema.json` from {@link buildExperimentSchema}. Run after changing the
 * format: `npx tsx src/config/write-schema.ts` (a test fails while the file is stale).
 */
import { fileURLToPath } from 'node:url';
import writeFileAtomic from 'write-file-atomic';
import { buildExperimentSchema } from './schema.ts';

/** Where the schema file lives, and its exact text. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/experiment.schema.json', import.meta.url));
export function schemaFileText(): string {
  return `${JSON.stringify(buildExperimentSchema(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileAtomic.sync(SCHEMA_FILE, schemaFileText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
