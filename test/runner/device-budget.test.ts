/**
 * A device-memory budget stops a case while it runs, and is judged on the figure the case's own
 * sampler took, with its method; where no figure can be had, the budget fails with the reason. The driver query is a stand-in for nvidia-smi
 * (there is no GPU here) that reports 8 GiB, in nvidia-smi's CSV format, for the case worker processes
 * this test process started (children of its pid), and for no other process on the machine.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { runCase } from '../../src/runner/case.ts';
import { applyChecks, evaluateChecks } from '../../src/runner/checks.ts';
import type { ResultRecord } from '../../src/runner/record.ts';
import { MarkdownReporter } from '../../src/reporters/markdown.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-device-'));
const smi = join(dir, 'nvidia-smi');
writeFileSync(smi, `#!/bin/sh\nfor p in $(pgrep -P ${process.pid} -f 'runner/worker.ts'); do echo "$p, 8192"; done\n`);
chmodSync(smi, 0o755);
/** A driver query that lists no process (as a Vulkan process may be missing from nvidia-smi's list). */
const emptySmi = join(dir, 'nvidia-smi-empty');
writeFileSync(emptySmi, '#!/bin/sh\nexit 0\n');
chmodSync(emptySmi, 0o755);
const saved = process.env.EXPBENCH_NVIDIA_SMI;
process.env.EXPBENCH_NVIDIA_SMI = smi;
afterAll(() => {
  if (saved === undefined) delete process.env.EXPBENCH_NVIDIA_SMI;
  else process.env.EXPBENCH_NVIDIA_SMI = saved;
  rmSync(dir, { recursive: true, force: true });
});

const experiment = (backend: string, budget: string, artefact = '') =>
  parseExperiment(
    `name: device-${backend.replace('/', '-')}
dataset: { kind: synthetic, train: 128, test: 32, imageSize: 8, classes: 4 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16 }
backends: [${backend}]
parity: { enabled: false }
timeout: 60s
expect: { memory: { device: ${budget} } }
${artefact}`,
    join(dir, 'x.experiment.yaml'),
    { profile: null },
  );

test('a case over its device-memory budget is stopped with the figure and the limit', async () => {
  const [c] = expandCases(experiment('fake/hang', '1GiB'));
  const t0 = Date.now();
  const r = await runCase(c!, { runId: 'device', resultsDir: dir });
  expect(r.status).toBe('crashed');
  expect(r.error).toMatchObject({ code: 'BUDGET', signal: 'SIGKILL' });
  expect(r.error?.message).toMatch(
    /device memory budget exceeded: 8590 MB on the GPU \(nvidia-smi\) > limit 1074 MB in phase [\w-]+; the case was stopped/,
  );
  expect(Date.now() - t0).toBeLessThan(30_000); // stopped by the budget, not the 60 s timeout
}, 60_000);

test('a case within its device-memory budget runs to the end', async () => {
  const [c] = expandCases(experiment('fake/ok', '64GiB'));
  const r = await runCase(c!, { runId: 'device', resultsDir: dir });
  expect(r.status, r.error?.message).toBe('passed');
}, 60_000);

/** Runs `c` with its checks judged, as the suite does (no baseline file). */
const judged = (c: ReturnType<typeof expandCases>[number]) =>
  runCase(c, {
    runId: 'device',
    resultsDir: dir,
    evaluate: (r: ResultRecord) =>
      applyChecks(
        r,
        evaluateChecks(r, c.experiment.expect, { kind: 'file', path: join(dir, 'none.json'), file: undefined }),
      ),
  });

test('the device figure of the case carries its method, in the record, the check and the report', async () => {
  // A backend and a table the report has a column for (table3: memory); the stand-in attributes its 8 GiB to any case process.
  const [c] = expandCases(experiment('onnxruntime/cpu', '64GiB', 'artefact: table3'));
  const r = await judged(c!);
  expect(r.status, r.error?.message).toBe('passed');
  const device = r.memory.train?.find((f) => f.metric === 'device');
  expect(device).toMatchObject({ bytes: 8192 * 2 ** 20, method: 'driver-process' });
  const check = r.checks?.find((k) => k.id === 'memory.device');
  expect(check).toMatchObject({ verdict: 'passed', measured: 8192 * 2 ** 20 });
  expect(check?.reason).toMatch(/the driver's figure for the case's process, from nvidia-smi --query-compute-apps/);
  const doc = new MarkdownReporter().document([r]);
  expect(doc).toMatch(
    /nvidia-smi --query-compute-apps \(the case's process\) every 500 ms, the driver's figure for the case's process/,
  );
}, 60_000);

test('a device budget on a case with no device figure fails with the reason', async () => {
  process.env.EXPBENCH_NVIDIA_SMI = emptySmi;
  try {
    const [c] = expandCases(experiment('fake/ok', '64GiB'));
    const r = await judged(c!);
    expect(r.status).toBe('failed');
    expect(r.memoryAbsent?.train?.[0]?.reason).toMatch(/nvidia-smi lists no compute process with pid \d+/);
    const check = r.checks?.find((k) => k.id === 'memory.device');
    expect(check).toMatchObject({ verdict: 'failed', measured: null });
    expect(r.error?.message).toMatch(
      /device memory: budget 64\.0 GiB is set, but no device memory figure was recorded: nvidia-smi lists no compute process with pid \d+/,
    );
  } finally {
    process.env.EXPBENCH_NVIDIA_SMI = smi;
  }
}, 60_000);
