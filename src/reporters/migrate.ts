/**
 * Older result records, brought to the current schema where that is honest, with what they cannot
 * show said once. `expbench/result@1` (before checks were stored) migrates: its measurements are the
 * same, but it carries no check verdicts (a budget or gate failure left it `passed`) and no model width
 * or batch-norm setting, so the reports mark such records instead of guessing.
 */
import { type MemoryFigure, peakFigures, RECORD_SCHEMA, type ResultRecord } from '../runner/record.ts';

/** Record schemas this version reads by migrating them. */
export const MIGRATED_SCHEMAS: readonly string[] = ['expbench/result@1'];

/** What a record of an older schema cannot show, in words a report prints beside it. */
export const MIGRATION_LIMITS: Record<string, string> = {
  'expbench/result@1':
    'no check verdicts were recorded (its status reflects crashes and errors only, not the accuracy floor, budgets, regression gate or parity), and its model width and batch norm are unknown',
};

/**
 * An `expbench/result@1` record (already checked for the fields every version has) as the current
 * schema: tagged `migratedFrom`, memory sources without the reading counts and pids @1 wrote into them
 * (so figures of one method merge, worst first), no `checks`.
 */
export function migrateRecord(raw: Record<string, unknown>): ResultRecord {
  const from = String(raw.schema);
  const r = structuredClone(raw) as unknown as ResultRecord;
  r.schema = RECORD_SCHEMA;
  r.migratedFrom = from;
  for (const phase of Object.keys(r.memory) as (keyof ResultRecord['memory'])[]) {
    const figures = r.memory[phase];
    if (figures) r.memory[phase] = peakFigures([figures.map(stableSource)]).map(oneMeasurement);
  }
  return r;
}

/** `… (12 samples)` → readings 12; `(pid 4242)` → `(the case's process)`. */
function stableSource(f: MemoryFigure): MemoryFigure {
  const m = / \((\d+) samples\)$/.exec(f.source);
  const source = f.source.replace(/ \(\d+ samples\)$/, '').replace(/\(pid \d+\)/, "(the case's process)");
  return m ? { ...f, source, readings: Number(m[1]) } : { ...f, source };
}

/** An @1 figure was already the worst of its case's runs; how many, it did not say. */
function oneMeasurement(f: MemoryFigure): MemoryFigure {
  const { measurements: _, ...rest } = f;
  return rest;
}
