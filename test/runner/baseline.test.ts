import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  BASELINE_SCHEMA,
  BaselineError,
  gateRecord,
  lookupBaseline,
  readBaseline,
  updateBaseline,
} from '../../src/runner/baseline.ts';
import { ENV_A, ENV_B, makeRecord } from './baseline-fixtures.ts';

const run = promisify(execFile);
const tmp = () => mkdtempSync(join(tmpdir(), 'expbench-baseline-'));
const KEY = 'table2 › onnxruntime/cpu';
const TRAIN = [100.2, 99.1, 101.1, 99.7, 100.5, 98.8, 101.4, 100.0, 99.5, 100.8];
const gate = { threshold: 0.1, alpha: 0.05 };

describe('updateBaseline / readBaseline', () => {
  it('creates the file with samples keyed by machine, case and phase; replaces an entry; keeps the others', async () => {
    const file = join(tmp(), 'nested', 'baseline.json');
    expect(await readBaseline(file)).toBeUndefined();
    const s = await updateBaseline(file, [makeRecord(KEY, TRAIN)]);
    expect(s.written.map((w) => w.phase)).toEqual(['buildInit', 'train', 'infer']);
    let b = (await readBaseline(file))!;
    expect(b.schema).toBe(BASELINE_SCHEMA);
    const m = b.machines[ENV_A.fingerprint]!;
    expect(m.env).toEqual({
      cpu: ENV_A.cpu,
      cores: 16,
      memoryBytes: ENV_A.memoryBytes,
      os: ENV_A.os,
      node: ENV_A.node,
    });
    expect(m.cases[KEY]!.train!.samples).toEqual(TRAIN);
    expect(m.cases[KEY]!.train!.workload).toEqual({
      arch: 'vgg-small',
      trainExamples: 49_984,
      testExamples: 9_984,
      epochs: 10,
      batchSize: 64,
    });

    await updateBaseline(file, [makeRecord('other › tfjs/cpu', [5, 5.1])]);
    await updateBaseline(file, [makeRecord(KEY, [90, 91], { phases: { train: { samples: [90, 91] } } })]);
    b = (await readBaseline(file))!;
    expect(Object.keys(b.machines[ENV_A.fingerprint]!.cases)).toEqual(['other › tfjs/cpu', KEY]);
    expect(b.machines[ENV_A.fingerprint]!.cases[KEY]!.train!.samples).toEqual([90, 91]);
    // Phases absent from the new record keep their old samples.
    expect(b.machines[ENV_A.fingerprint]!.cases[KEY]!.infer!.samples).toEqual([3.1, 3.0, 3.2]);
  });

  it('skips skipped and crashed records and says why', async () => {
    const file = join(tmp(), 'baseline.json');
    const s = await updateBaseline(file, [
      makeRecord(KEY, TRAIN, { status: 'crashed', error: { code: 'CRASHED', message: 'killed by SIGSEGV' } }),
      makeRecord('x › tfjs/cpu', [1], { status: 'skipped', skipReason: 'no GPU' }),
    ]);
    expect(s.written).toEqual([]);
    expect(s.skipped).toEqual([
      { key: KEY, reason: 'status crashed' },
      { key: 'x › tfjs/cpu', reason: 'status skipped' },
    ]);
    expect(existsSync(file)).toBe(false);
  });

  it('a corrupt file gives a BaselineError with file:line:col, and neither read nor update touches it', async () => {
    const file = join(tmp(), 'baseline.json');
    const bytes = '{\n  "schema": "expbench/baseline@1",\n  "machines": {,}\n}\n';
    writeFileSync(file, bytes);
    const err = await readBaseline(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BaselineError);
    expect((err as BaselineError).code).toBe('BASELINE');
    expect((err as BaselineError).message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:16: baseline file is not valid JSON`),
    );
    expect((err as BaselineError).message).toMatch(/git checkout -- <file>\), or delete it/);
    await expect(updateBaseline(file, [makeRecord(KEY, TRAIN)])).rejects.toBeInstanceOf(BaselineError);
    expect(readFileSync(file, 'utf8')).toBe(bytes);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('a foreign file (other schema, or no schema) is rejected and left as it is', async () => {
    const dir = tmp();
    for (const [name, content] of [
      ['other.json', '{"schema": "expbench/result@1", "key": "x"}\n'],
      ['package.json', '{"name": "something", "version": "1.0.0"}\n'],
      ['array.json', '[1, 2, 3]\n'],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, content);
      await expect(readBaseline(file)).rejects.toThrow(BaselineError);
      await expect(updateBaseline(file, [makeRecord(KEY, TRAIN)])).rejects.toThrow(
        /not an expbench baseline|expected a JSON object/,
      );
      expect(readFileSync(file, 'utf8')).toBe(content);
    }
    await expect(readBaseline(join(dir, 'other.json'))).rejects.toThrow(
      /schema "expbench\/result@1", expected "expbench\/baseline@1"/,
    );
    await expect(readBaseline(join(dir, 'package.json'))).rejects.toThrow(/no "schema" field/);
  });

  it('a right-schema file with a bad sample names the field', async () => {
    const file = join(tmp(), 'baseline.json');
    await updateBaseline(file, [makeRecord(KEY, TRAIN)]);
    const obj = JSON.parse(readFileSync(file, 'utf8'));
    obj.machines[ENV_A.fingerprint].cases[KEY].train.samples[2] = 'fast';
    writeFileSync(file, JSON.stringify(obj));
    await expect(readBaseline(file)).rejects.toThrow(
      `machines["${ENV_A.fingerprint}"].cases["${KEY}"].train.samples[2]: expected a positive number of seconds, got "fast"`,
    );
  });

  it('concurrent writers in separate processes: every key lands, the file parses', async () => {
    const file = join(tmp(), 'baseline.json');
    const script = fileURLToPath(new URL('./baseline-concurrent-writer.ts', import.meta.url));
    const n = 6;
    const start = Date.now() + 1500;
    const outs = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        run(process.execPath, ['--import', 'tsx', script, file, `case-${i} › tfjs/cpu`, String(start)], {
          timeout: 30_000,
        }),
      ),
    );
    for (const o of outs) expect(JSON.parse(o.stdout).written).toHaveLength(3);
    const b = (await readBaseline(file))!;
    expect(Object.keys(b.machines[ENV_A.fingerprint]!.cases).sort()).toEqual(
      Array.from({ length: n }, (_, i) => `case-${i} › tfjs/cpu`),
    );
    expect(existsSync(`${file}.lock`)).toBe(false);
  }, 40_000);
});

describe('lookup and gate against the baseline', () => {
  it('same machine and workload: compared, phase by phase', async () => {
    const file = join(tmp(), 'baseline.json');
    await updateBaseline(file, [makeRecord(KEY, TRAIN)]);
    const b = await readBaseline(file);
    const slower = makeRecord(
      KEY,
      TRAIN.map((v) => v * 1.3),
    );
    const verdicts = gateRecord(slower, b, gate);
    expect(verdicts.map((v) => [v.phase, v.status])).toEqual([
      ['buildInit', 'pass'],
      ['train', 'regression'],
      ['infer', 'pass'],
    ]);
    expect(verdicts[1]!.message).toMatch(
      /^table2 › onnxruntime\/cpu train time: median 2 min 10 s vs baseline 1 min 40 s \(ratio 1\.3/,
    );
  });

  it('another machine: incomparable, naming both', async () => {
    const file = join(tmp(), 'baseline.json');
    await updateBaseline(file, [makeRecord(KEY, TRAIN)]);
    const b = await readBaseline(file);
    const v = gateRecord(makeRecord(KEY, TRAIN, { env: ENV_B }), b, gate).find((x) => x.phase === 'train')!;
    expect(v.status).toBe('incomparable');
    expect(v.message).toContain(
      'baseline recorded on AMD EPYC 7B13, 16 cores, 64 GiB; this machine is Intel Xeon Platinum 8480C, 8 cores, 32 GiB: not compared',
    );
  });

  it('another workload or another backend actually used: incomparable; unknown case: no-baseline', async () => {
    const file = join(tmp(), 'baseline.json');
    await updateBaseline(file, [makeRecord(KEY, TRAIN)]);
    const b = await readBaseline(file);
    const fewer = makeRecord(KEY, TRAIN);
    fewer.experiment.epochs = 1;
    expect(lookupBaseline(b, fewer, 'train')).toMatchObject({
      kind: 'incomparable',
      reason:
        'baseline measured epochs 10; this run epochs 1: not compared (record a new baseline for the changed workload)',
    });
    const fellBack = makeRecord(KEY, TRAIN, {
      backend: { requested: 'onnxruntime/cpu', session: { backend: 'tfjs/cpu', device: 'cpu', versions: {} } },
    });
    expect(lookupBaseline(b, fellBack, 'train')).toMatchObject({
      kind: 'incomparable',
      reason: 'baseline ran on backend onnxruntime/cpu; this run on tfjs/cpu: not compared',
    });
    expect(gateRecord(makeRecord('new › tfjs/cpu', TRAIN), b, gate).map((v) => v.status)).toEqual([
      'no-baseline',
      'no-baseline',
      'no-baseline',
    ]);
    expect(gateRecord(makeRecord(KEY, TRAIN), undefined, gate)[0]!.status).toBe('no-baseline');
  });
});
