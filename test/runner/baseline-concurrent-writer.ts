/**
 * Child process of the concurrency test: waits until the given start time, then updates the baseline
 * with one record of its own key. Usage: node --import tsx baseline-concurrent-writer.ts FILE KEY START_MS
 */
import { updateBaseline } from '../../src/runner/baseline.ts';
import { makeRecord } from './baseline-fixtures.ts';

const [file, key, start] = process.argv.slice(2);
if (!file || !key || !start) throw new Error('usage: baseline-concurrent-writer.ts FILE KEY START_MS');
// Start together, so the updates really overlap.
await new Promise((r) => setTimeout(r, Math.max(0, Number(start) - Date.now())));
const summary = await updateBaseline(file, [makeRecord(key, [10, 10.1, 9.9])]);
process.stdout.write(JSON.stringify(summary));
