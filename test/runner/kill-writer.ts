/**
 * Child process of the kill-point test: writes result records, updates the shared baseline and
 * regenerates a report, over and over, until it is killed. Prints "ready" once it is writing.
 * Usage: node --import tsx kill-writer.ts DIR ID
 */
import { join } from 'node:path';
import { writeReport } from '../../src/reporters/index.ts';
import { writeJsonAtomic } from '../../src/runner/atomic.ts';
import { updateBaseline } from '../../src/runner/baseline.ts';
import { makeRecord } from './baseline-fixtures.ts';

const [dir, id] = process.argv.slice(2);
if (!dir || !id) throw new Error('usage: kill-writer.ts DIR ID');
// Large enough that a write takes a while: a torn write would be caught.
const samples = Array.from({ length: 20_000 }, (_, i) => 10 + (i % 7) / 100);
let n = 0;
process.stdout.write('ready\n');
for (;;) {
  const rec = makeRecord(`kill-${id} › onnxruntime/cpu`, samples.slice(0, 5 + (n % 5)), { runId: `w${id}-${n}` });
  await updateBaseline(join(dir, 'baseline.json'), [rec]);
  await writeJsonAtomic(join(dir, 'records', `w${id}-${n % 3}.json`), {
    ...rec,
    phases: { ...rec.phases, warmup: { samples } },
  });
  if (n % 4 === 0) await writeReport([rec], join(dir, `report-${id}`), { reporters: ['markdown', 'json'] });
  n++;
}
