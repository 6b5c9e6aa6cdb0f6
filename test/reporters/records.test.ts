import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonReporter } from '../../src/reporters/json.ts';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';
import { loadRecords, RecordError } from '../../src/reporters/records.ts';
import type { ResultRecord } from '../../src/runner/record.ts';
import { makeRecord, paperRecords, samples } from './fixtures.ts';
import { tableAfter } from './md-tables.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'expbench-records-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes each record as `<dir>/<runId>/<n>.json`, as the runner lays out a run's results. */
async function writeRecords(dir: string, records: ResultRecord[]): Promise<void> {
  await Promise.all(
    records.map(async (r, i) => {
      const d = join(dir, r.runId);
      await mkdir(d, { recursive: true });
      await writeFile(join(d, `${String(i).padStart(3, '0')}.json`), JSON.stringify(r, null, 2));
    }),
  );
}

function withRun(records: ResultRecord[], runId: string): ResultRecord[] {
  return records.map((r) => ({ ...r, runId }));
}

/** Everything after the environment section: the tables, which do not name runs. */
function tables(doc: string): string {
  return doc.slice(doc.indexOf('## Table 2'));
}

describe('loadRecords', () => {
  it('merges two shard folders into exactly the records of the unsharded run', async () => {
    const all = paperRecords('run-unsharded');
    // vitest --shard splits by test file; here: every other experiment.
    const names = [...new Set(all.map((r) => r.experiment.name))].sort();
    const inShard1 = (r: ResultRecord) => names.indexOf(r.experiment.name) % 2 === 0;
    await writeRecords(join(root, 'unsharded'), all);
    await writeRecords(join(root, 'shard-1'), withRun(all.filter(inShard1), 'run-shard-1'));
    await writeRecords(
      join(root, 'shard-2'),
      withRun(
        all.filter((r) => !inShard1(r)),
        'run-shard-2',
      ),
    );

    const one = await loadRecords([join(root, 'unsharded')]);
    const merged = await loadRecords([join(root, 'shard-1'), join(root, 'shard-2')]);
    expect(one.warnings).toEqual([]);
    expect(merged.warnings).toEqual([]);
    expect(merged.records.map((r) => r.key)).toEqual(one.records.map((r) => r.key));
    expect(merged.records.length).toBe(all.length);
    // Case for case, the merged set renders the same tables as the unsharded one.
    const md = new MarkdownReporter();
    const a = md.document(one.records);
    const b = md.document(merged.records);
    expect(tables(b)).toBe(tables(a));
    for (const heading of ['## Table 2', '## Table 3', '### Fig. 2', '### Fig. 3', '## Accuracy', '## Cases']) {
      expect(tableAfter(b, heading)).toEqual(tableAfter(a, heading));
    }
  });

  it('keeps one copy of a record that overlapping shards both hold, and warns', async () => {
    const dup = makeRecord({ backend: 'tfjs/cpu', train: samples(10, 1), runId: 'run-x' });
    const other = makeRecord({ backend: 'onnxruntime/cpu', train: samples(5, 1), runId: 'run-x' });
    await writeRecords(join(root, 'overlap-1'), [dup, other]);
    await writeRecords(join(root, 'overlap-2'), [dup]);
    const { records, warnings } = await loadRecords([join(root, 'overlap-1'), join(root, 'overlap-2')]);
    expect(records.map((r) => r.key)).toEqual(['paper-table2 › onnxruntime/cpu', 'paper-table2 › tfjs/cpu']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"paper-table2 › tfjs/cpu" of run run-x appears twice');
    expect(warnings[0]).toContain('overlapping shards');
    expect(warnings[0]).toContain(join(root, 'overlap-1'));
    expect(warnings[0]).toContain(join(root, 'overlap-2'));
  });

  it('keeps the newest record of a case measured in several runs, and says which', async () => {
    const old = makeRecord({
      backend: 'tfjs/cpu',
      train: [20],
      runId: 'run-old',
      finishedAt: '2025-04-01T00:00:00.000Z',
    });
    const fresh = makeRecord({
      backend: 'tfjs/cpu',
      train: [10],
      runId: 'run-new',
      finishedAt: '2025-05-01T00:00:00.000Z',
    });
    // Newest given first, so the choice does not depend on input order.
    await writeRecords(join(root, 'runs-a'), [fresh]);
    await writeRecords(join(root, 'runs-b'), [old]);
    const { records, warnings } = await loadRecords([join(root, 'runs-a'), join(root, 'runs-b')]);
    expect(records).toHaveLength(1);
    expect(records[0]?.runId).toBe('run-new');
    expect(records[0]?.phases.train?.samples).toEqual([10]);
    expect(warnings).toEqual([expect.stringContaining('kept the newest, run run-new')]);
    expect(warnings[0]).toContain('run-old (finished 2025-04-01T00:00:00.000Z');
  });

  it('sums up a whole run superseded by a newer one in one warning', async () => {
    const older = withRun(paperRecords(), 'run-1').map((r) => ({ ...r, finishedAt: '2025-04-01T00:00:00.000Z' }));
    const newer = withRun(paperRecords(), 'run-2');
    await writeRecords(join(root, 'reruns'), [...older, ...newer]);
    const { records, warnings } = await loadRecords([join(root, 'reruns')]);
    expect(records.map((r) => r.runId)).toEqual(newer.map(() => 'run-2'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^29 cases have records from runs run-1 and run-2; kept the newest, run run-2, for each: "paper-argmax › onnxruntime\/cpu", .*, …$/,
    );
  });

  it('rejects another schema version, naming the file, the version and what to do', async () => {
    const dir = join(root, 'v2');
    await writeRecords(dir, [makeRecord({ backend: 'tfjs/cpu', train: [1], runId: 'run-ok' })]);
    const bad = join(dir, 'future.json');
    await writeFile(
      bad,
      JSON.stringify({ ...makeRecord({ backend: 'onnxruntime/cpu', train: [1] }), schema: 'expbench/result@9' }),
    );
    const err = await loadRecords([dir]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordError);
    const e = err as RecordError;
    expect(e.code).toBe('RECORD');
    expect(e.problems).toHaveLength(1);
    expect(e.message).toContain(bad);
    expect(e.message).toContain('schema "expbench/result@9" is not supported');
    expect(e.message).toContain('reads "expbench/result@2" (migrating "expbench/result@1"');
    expect(e.message).toContain('Re-run the experiments with this version');
    // As warnings, the rest still loads.
    const lenient = await loadRecords([dir], { onInvalid: 'warn' });
    expect(lenient.records.map((r) => r.runId)).toEqual(['run-ok']);
    expect(lenient.warnings).toEqual([expect.stringContaining(`skipped ${bad}: schema "expbench/result@9"`)]);
  });

  it('migrates expbench/result@1 records: tagged, memory sources without reading counts or pids, no checks', async () => {
    const dir = join(root, 'v1');
    const old = makeRecord({ backend: 'onnxruntime/cpu', train: [1], runId: 'run-v1' });
    old.memory.train = [
      { metric: 'peak-rss', bytes: 300, source: 'VmRSS sampled every 50 ms (12 samples)', reliable: false },
      { metric: 'peak-rss', bytes: 200, source: 'VmRSS sampled every 50 ms (13 samples)', reliable: false },
      {
        metric: 'device',
        bytes: 9,
        source: 'nvidia-smi --query-compute-apps (pid 4242) every 500 ms (3 samples)',
        reliable: true,
      },
    ];
    await writeRecords(dir, [{ ...old, schema: 'expbench/result@1' as never }]);
    const { records, warnings } = await loadRecords([dir]);
    expect(warnings).toEqual([]);
    const [r] = records;
    expect(r!.schema).toBe('expbench/result@2');
    expect(r!.migratedFrom).toBe('expbench/result@1');
    expect(r!.checks).toBeUndefined();
    expect(r!.memory.train).toEqual([
      { metric: 'peak-rss', bytes: 300, source: 'VmRSS sampled every 50 ms', readings: 12, reliable: false },
      {
        metric: 'device',
        bytes: 9,
        source: "nvidia-smi --query-compute-apps (the case's process) every 500 ms",
        readings: 3,
        reliable: true,
      },
    ]);
    // The report says what such a record cannot show.
    const md = new MarkdownReporter().document(records);
    expect(md).toContain('written as `expbench/result@1`');
    expect(md).toContain('no check verdicts were recorded');
  });

  it('collects every rejected file before failing: broken JSON, missing fields, wrong explicit file', async () => {
    const dir = join(root, 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'truncated.json'), '{"schema": "expbench/result@1", "runId": ');
    const { runId: _drop, ...noRun } = makeRecord({ backend: 'tfjs/cpu', train: [1] });
    await writeFile(join(dir, 'no-run.json'), JSON.stringify(noRun));
    const pkg = join(root, 'package.json');
    await writeFile(pkg, JSON.stringify({ name: 'x' }));
    const e = (await loadRecords([dir, pkg]).catch((x: unknown) => x)) as RecordError;
    expect(e).toBeInstanceOf(RecordError);
    expect(e.problems).toHaveLength(3);
    expect(e.problems.find((p) => p.includes('truncated.json'))).toContain('not valid JSON');
    expect(e.problems.find((p) => p.includes('no-run.json'))).toContain('"runId" is missing');
    expect(e.problems.find((p) => p.startsWith(pkg))).toContain(
      'not an expbench result record (has no "schema" field)',
    );
  });

  it('rejects a record whose status lacks its detail: a skip without reason, a failure without error', async () => {
    const dir = join(root, 'no-detail');
    await mkdir(dir, { recursive: true });
    const { skipReason: _r, ...noReason } = makeRecord({ backend: 'tfjs/webgpu', status: 'skipped', skipReason: 'x' });
    await writeFile(join(dir, 'no-reason.json'), JSON.stringify(noReason));
    const crashed = makeRecord({
      backend: 'tfjs/cpu',
      status: 'crashed',
      error: { code: 'WORKER_CRASH', message: 'x' },
    });
    await writeFile(join(dir, 'no-error.json'), JSON.stringify({ ...crashed, error: { code: 'WORKER_CRASH' } }));
    const e = (await loadRecords([dir]).catch((x: unknown) => x)) as RecordError;
    expect(e).toBeInstanceOf(RecordError);
    expect(e.problems.find((p) => p.includes('no-reason.json'))).toContain('status "skipped" without a "skipReason"');
    expect(e.problems.find((p) => p.includes('no-error.json'))).toContain(
      'status "crashed" without an "error" with "code" and "message"',
    );
  });

  it('ignores other JSON files inside a results folder, with a warning', async () => {
    const dir = join(root, 'mixed');
    await writeRecords(dir, [makeRecord({ backend: 'tfjs/cpu', train: [1] })]);
    await writeFile(join(dir, 'progress.json'), JSON.stringify({ schema: 'expbench/progress@1' }));
    await writeFile(join(dir, 'notes.txt'), 'not json');
    const { records, warnings } = await loadRecords([dir]);
    expect(records).toHaveLength(1);
    expect(warnings).toEqual([
      `${join(dir, 'progress.json')}: ignored, not an expbench result record (has schema "expbench/progress@1")`,
    ]);
  });

  it('reads a results.json bundle back into the records it was written from', async () => {
    const records = paperRecords();
    const [file] = new JsonReporter().render(records);
    const path = join(root, 'results.json');
    await writeFile(path, file?.content ?? '');
    const loaded = await loadRecords([path]);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.records).toEqual([...records].sort((a, b) => (a.key < b.key ? -1 : 1)));
    const bundle = JSON.parse(file?.content ?? '{}') as { summary: Record<string, unknown> };
    expect(bundle.summary).toMatchObject({
      records: records.length,
      byStatus: { passed: 24, failed: 1, skipped: 4 },
      backends: ['tfjs/cpu', 'tfjs/wasm', 'tfjs/webgpu', 'onnxruntime/cpu', 'onnxruntime/webgpu', 'onnxruntime/cuda'],
    });
  });

  it('reports a path that does not exist', async () => {
    const missing = join(root, 'nope');
    await expect(loadRecords([missing])).rejects.toThrow(`${missing}: cannot read (ENOENT)`);
  });
});
