/** Runs the `expbench` command as a user does (bin/expbench.mjs in a child process). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '../../bin/expbench.mjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for messages that may go to either. */
  out: string;
}

export function expbenchCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env };
  // The suite's own settings must not leak into the command under test.
  for (const k of [
    'EXPBENCH_PROFILE',
    'EXPBENCH_BACKENDS',
    'EXPBENCH_RUN_ID',
    'EXPBENCH_RESULTS_DIR',
    'EXPBENCH_REPORT_DIR',
  ])
    if (!(opts.env && k in opts.env)) delete env[k];
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}\n${r.stderr}` };
}

/** A tiny experiment on the always-available test backend: seconds to run. */
export const TINY_EXPERIMENT = `name: mine
dataset: { kind: synthetic, train: 64, test: 32, imageSize: 8, classes: 4 }
model: { arch: vgg-small, width: 0.125 }
training: { epochs: 1, batchSize: 16 }
backends: [fake/ok]
parity: { enabled: false }
`;
