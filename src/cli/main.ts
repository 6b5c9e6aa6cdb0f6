/**
 * The `expbench` command.
 *
 *   expbench run [files…] [--profile ci] [--backends cpu] [--out dir]    run experiments through Vitest, write the report
 *                [--profile-ops]                                     … and per-operator profiles of the training step
 *   expbench validate [files…]                                          check experiment files, print located errors
 *   expbench report [results…] --out docs                               regenerate docs from stored records (merges shards)
 *   expbench baseline update [results…] [--file baselines/baseline.json] accept results as the new baseline
 *   expbench diff [results…] [--baseline f | --against results…]     what a run changed, as markdown for a pull request
 *   expbench history [--file f] [--case text] [--out dir]             each metric's series, its change points, a trend figure
 *   expbench data cifar10 [--dir d]                                     download and verify the official CIFAR-10 archive
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative, resolve } from 'node:path';
import { cac } from 'cac';
import { ExpbenchError } from '../errors.ts';
import { newRunId, parseBackendFilter, RUN_FILES_ENV } from '../plugin/settings.ts';
import { progressEnabled } from '../runner/progress.ts';
import { PROFILE_OPS_ENV } from '../runner/op-profile.ts';

const require = createRequire(import.meta.url);

/** The Vitest configuration `expbench run` uses (see run-config.ts). */
const RUN_CONFIG = fileURLToPath(new URL('./run-config.ts', import.meta.url));

/** Path of Vitest's command-line entry (not in its package exports, so found beside package.json). */
export function vitestEntry(): string {
  return join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
}

/** Expands folders into the experiment files under them. */
export function findExperimentFiles(inputs: string[], cwd = process.cwd()): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(join(p, e));
    } else if (/\.experiment\.ya?ml$/.test(p)) {
      out.push(p);
    }
  };
  for (const i of inputs) {
    const p = resolve(cwd, i);
    if (!existsSync(p)) {
      // A link whose target cannot be reached (a loop, a missing target) exists; say which it is.
      const link = lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink();
      throw new ExpbenchError(
        'USAGE',
        link ? `${i}: a symbolic link that cannot be followed (${linkProblem(p)})` : `${i}: no such file or folder`,
        {
          hint: link
            ? 'point the link at the experiment file'
            : 'give experiment files or folders that contain *.experiment.yaml',
        },
      );
    }
    if (statSync(p).isFile()) out.push(p);
    else walk(p);
  }
  return out;
}

/** Why a symbolic link cannot be followed: a loop, or a missing target. */
function linkProblem(p: string): string {
  try {
    statSync(p);
    return 'unknown reason';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ELOOP'
      ? 'it leads back to itself, a symlink loop'
      : 'its target does not exist';
  }
}

/**
 * EXPBENCH_PROGRESS for the Vitest run: the flag, else the environment, else on when this command's
 * stderr is a terminal (and not CI). Decided here because Vitest's workers, where the cases report
 * their progress, write to a pipe and cannot tell that a terminal is at the other end.
 */
export function childProgress(flag: boolean | undefined, env: NodeJS.ProcessEnv, isTTY: boolean): '1' | '0' {
  if (flag !== undefined) return flag ? '1' : '0';
  return progressEnabled(env, isTTY) ? '1' : '0';
}

interface RunFlags {
  profile?: string;
  backends?: string;
  out?: string;
  results?: string;
  progress?: boolean;
  profileOps?: boolean;
}

async function runCommand(files: string[], flags: RunFlags): Promise<number> {
  const cwd = process.cwd();
  const targets = findExperimentFiles(files.length ? files : ['experiments'], cwd);
  if (targets.length === 0) {
    process.stderr.write('expbench: no *.experiment.yaml files found\n');
    return 2;
  }
  const runId = newRunId();
  const env: NodeJS.ProcessEnv = { ...process.env, EXPBENCH_RUN_ID: runId, [RUN_FILES_ENV]: JSON.stringify(targets) };
  // Without --out the report goes beside the records (.expbench/report), never over committed docs.
  if (flags.out !== undefined) env.EXPBENCH_REPORT_DIR = resolve(cwd, flags.out);
  // Always set, so the Vitest config's default for plain `vitest run` (the ci profile) does not apply:
  // an empty value means the experiment files' base values.
  env.EXPBENCH_PROFILE = flags.profile ?? process.env.EXPBENCH_PROFILE ?? '';
  if (flags.backends) env.EXPBENCH_BACKENDS = parseBackendFilter(flags.backends, '--backends').join(',');
  else if (process.env.EXPBENCH_BACKENDS) parseBackendFilter(process.env.EXPBENCH_BACKENDS);
  if (flags.results) env.EXPBENCH_RESULTS_DIR = resolve(cwd, flags.results);
  env.EXPBENCH_PROGRESS = childProgress(flags.progress, process.env, process.stderr.isTTY === true);
  if (flags.profileOps) env[PROFILE_OPS_ENV] = '1';
  const vitest = vitestEntry();
  // expbench's own Vitest configuration, which runs exactly these files wherever they are.
  const args = [vitest, 'run', '--config', RUN_CONFIG];
  process.stderr.write(
    `expbench: run ${runId}: ${targets.length} experiment file(s), profile ${env.EXPBENCH_PROFILE || '(base values)'}\n`,
  );
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env, cwd });
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
}

async function validateCommand(files: string[], flags: { profile?: string }): Promise<number> {
  const { validateFiles } = await import('../config/load.ts');
  const inputs = files.length ? files : ['experiments'];
  const targets = findExperimentFiles(inputs);
  if (targets.length === 0) {
    // A CI step whose path has a typo must not pass by checking nothing.
    throw new ExpbenchError('USAGE', `nothing to validate: no *.experiment.yaml file in ${inputs.join(', ')}`, {
      hint: `${inputs
        .filter((i) => /\.experiment\.ya?ml$/.test(i))
        .map((i) => `${i} is a folder, not a file; `)
        .join('')}give experiment files, or folders that contain *.experiment.yaml files`,
    });
  }
  // Without --profile, EXPBENCH_PROFILE applies, as it does under vitest run.
  const results = await validateFiles(targets, flags.profile !== undefined ? { profile: flags.profile } : {});
  let bad = 0;
  for (const r of results) {
    if (r.ok) {
      process.stdout.write(`ok   ${relative(process.cwd(), r.file)}\n`);
    } else {
      bad++;
      process.stdout.write(`FAIL ${relative(process.cwd(), r.file)}\n${r.error?.message ?? ''}\n\n`);
    }
  }
  process.stdout.write(`${results.length - bad} valid, ${bad} invalid\n`);
  return bad ? 1 : 0;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = cac('expbench');
  let result: Promise<number> | undefined;
  cli
    .command(
      'run [...files]',
      'Run experiments (files or folders; default experiments/) through Vitest and write the report',
    )
    .option('--profile <name>', 'Profile to apply, e.g. ci or paper (default: EXPBENCH_PROFILE)')
    .option(
      '--backends <list>',
      'Only these backends or devices, comma separated (e.g. cpu or tfjs/wasm,onnxruntime/cpu)',
    )
    .option('--out <dir>', 'Where the report goes (default: EXPBENCH_REPORT_DIR or .expbench/report)')
    .option('--results <dir>', 'Where the result records go (default .expbench/results/<run id>)')
    .option('--progress', 'Live progress (default: on in a terminal, off in CI)')
    .option('--profile-ops', 'Also record per-operator profiles of every training step (after the timed phases)')
    .action((files: string[], flags: RunFlags) => {
      result = runCommand(files, flags);
    });
  cli
    .command('validate [...files]', 'Validate experiment files and print every located error')
    .option('--profile <name>', 'Also apply this profile (default: EXPBENCH_PROFILE)')
    .action((files: string[], flags: { profile?: string }) => {
      result = validateCommand(files, flags);
    });
  cli
    .command(
      'report [...results]',
      'Regenerate the comparison docs from stored result records (files or folders; shards merge)',
    )
    .option('--out <dir>', 'Output folder', { default: '.expbench/report' })
    .option('--reporters <list>', 'Comma list of reporters (markdown,svg,json)')
    .option('--profile <name>', "Only records of this profile ('' for base values); needed when inputs mix profiles")
    .action(async (inputs: string[], flags: { out: string; reporters?: string; profile?: string }) => {
      const { runReportCommand } = await import('./report-command.ts');
      result = runReportCommand({
        inputs: inputs.length ? inputs : ['.expbench/results'],
        out: flags.out,
        reporters: flags.reporters?.split(','),
        ...(flags.profile !== undefined ? { profile: String(flags.profile) } : {}),
      });
    });
  cli
    .command('baseline <action> [...results]', 'baseline update: accept result records as the new baseline')
    .option('--file <path>', 'Baseline file', { default: 'baselines/baseline.json' })
    .action(async (action: string, inputs: string[], flags: { file: string }) => {
      const { runBaselineCommand } = await import('./baseline-command.ts');
      result = runBaselineCommand({ action, inputs, file: flags.file });
    });
  cli
    .command(
      'diff [...results]',
      'What a run changed, as compact markdown for a pull request (default: against what each case was gated on)',
    )
    .option('--baseline <file>', 'Compare with this baseline file')
    .option(
      '--against <results>',
      'Compare with these result folders or files (comma separated), e.g. the merge base run',
    )
    .option('--out <file>', 'Write the markdown to this file instead of stdout')
    .option('--summary <file>', 'Also append it to this file (default: $GITHUB_STEP_SUMMARY when set)')
    .action(
      async (inputs: string[], flags: { baseline?: string; against?: string; out?: string; summary?: string }) => {
        const { runDiffCommand } = await import('./diff-command.ts');
        result = runDiffCommand({
          inputs,
          baseline: flags.baseline,
          against: flags.against?.split(',').filter((x) => x !== ''),
          out: flags.out,
          summary: flags.summary ?? process.env.GITHUB_STEP_SUMMARY,
        });
      },
    );
  cli
    .command('history', "Each metric's series over the runs, the change points found in it, and a trend figure")
    .option('--file <path>', 'History file (default: EXPBENCH_HISTORY or .expbench/history.json)')
    .option('--case <text>', 'Only cases whose key contains this text')
    .option('--out <dir>', 'Folder of the trend figure', { default: '.expbench/history' })
    .action(async (flags: { file?: string; case?: string; out: string }) => {
      const { runHistoryCommand } = await import('./history-command.ts');
      const { runSettings } = await import('../plugin/settings.ts');
      result = runHistoryCommand({ file: flags.file ?? runSettings().historyFile, case: flags.case, out: flags.out });
    });
  cli
    .command('data <dataset>', 'Download and verify a dataset (cifar10)')
    .option('--dir <dir>', 'Target folder (default: EXPBENCH_DATA or the per-user cache)')
    .option('--url <url>', 'Mirror of the official archive')
    .action(async (dataset: string, flags: { dir?: string; url?: string }) => {
      const { runDataCommand } = await import('./data-command.ts');
      result = runDataCommand({ dataset, dir: flags.dir, url: flags.url });
    });
  cli
    .command('model <experiment>', "Print the experiment's network (nodes, shapes, parameters, multiply-adds)")
    .option('--profile <name>', 'Profile to apply (default: EXPBENCH_PROFILE)')
    .option('--onnx <file>', 'Also write the model with its starting weights as an ONNX file (opens in Netron)')
    .option('--weights <path>', "With --onnx: a run's trained weights (record folder, record or .weights.onnx file)")
    .action(async (file: string, flags: { profile?: string; onnx?: string; weights?: string }) => {
      const { runModelCommand } = await import('./model-command.ts');
      result = runModelCommand({ file, profile: flags.profile, onnx: flags.onnx, weights: flags.weights });
    });
  cli.help();
  cli.version('0.1.0');
  try {
    cli.parse(['node', 'expbench', ...argv], { run: false });
    if (!cli.matchedCommand) {
      if (!argv.includes('--help') && !argv.includes('-h') && !argv.includes('--version') && !argv.includes('-v')) {
        cli.outputHelp();
        return argv.length ? 2 : 0;
      }
      return 0;
    }
    await cli.runMatchedCommand();
    return (await result) ?? 0;
  } catch (e) {
    if (e instanceof ExpbenchError) {
      // Errors shown inside Vitest carry their hint in the message; print it once.
      const hint = e.hint && !e.message.includes(e.hint) ? `\nhint: ${e.hint}` : '';
      process.stderr.write(`expbench: ${e.message}${hint}\n`);
      return 2;
    }
    process.stderr.write(`expbench: ${(e as Error).message}\n`);
    return 2;
  }
}
