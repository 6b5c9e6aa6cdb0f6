/**
 * A device-memory budget stops a case while it runs. The driver query is a stand-in for nvidia-smi
 * (there is no GPU here) that reports 8 GiB, in nvidia-smi's CSV format, for the case worker processes
 * this test process started (children of its pid), and for no other process on the machine.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { expandCases, parseExperiment } from '../../src/config/load.ts';
import { runCase } from '../../src/runner/case.ts';

const dir = mkdtempSync(join(tmpdir(), 'expbench-device-'));
const smi = join(dir, 'nvidia-smi');
writeFileSync(smi, `#!/bin/sh\nfor p in $(pgrep -P ${process.pid} -f 'runner/worker.ts'); do echo "$p, 8192"; done\n`);
chmodSync(smi, 0o755);
const saved = process.env.EXPBENCH_NVIDIA_SMI;
process.env.EXPBENCH_NVIDIA_SMI = smi;
afterAll(() => {
  if (saved === undefined) delete process.env.EXPBENCH_NVIDIA_SMI;
  else process.env.EXPBENCH_NVIDIA_SMI = saved;
  rmSync(dir, { recursive: true, force: true });
});

const experiment = (backend: string, budget: string) =>
  parseExperiment(
    `name: device-${backend.replace('/', '-')}
dataset: { kind: synthetic, train: 128, test: 32, imageSize: 8, classes: 4 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16 }
backends: [${backend}]
parity: { enabled: false }
timeout: 60s
expect: { memory: { device: ${budget} } }
`,
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
