/**
 * `expbench diff [results…] [--baseline file | --against results…] [--out file]`: the pull-request
 * report (src/reporters/diff.ts) for stored records. Without `--baseline` or `--against`, each case is
 * shown against what it was gated on when it ran (its stored checks).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { ExpbenchError } from '../errors.ts';
import { type DiffAgainst, renderDiff } from '../reporters/diff.ts';
import { loadRecords, RecordError } from '../reporters/records.ts';
import { readBaseline } from '../runner/baseline.ts';
import { baselineOfRecords, regressionsAgainst } from '../runner/checks.ts';
import { newestRun } from './baseline-command.ts';

export interface DiffCommandArgs {
  /** Result folders or record files of the run; the newest run under .expbench/results when empty. */
  inputs: string[];
  /** Compare with this baseline file. */
  baseline?: string;
  /** Compare with these records (folders or files), e.g. the merge base's run. */
  against?: string[];
  /** Write the markdown here (atomically) instead of printing it. */
  out?: string;
  /** Also append it to this file (GitHub's `$GITHUB_STEP_SUMMARY`). */
  summary?: string;
}

export interface DiffCommandIo {
  out: (text: string) => void;
  err: (line: string) => void;
}

const processIo: DiffCommandIo = {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the command: 0 when the report was written, 1 when inputs could not be read. */
export async function runDiffCommand(args: DiffCommandArgs, io: DiffCommandIo = processIo): Promise<number> {
  if (args.baseline !== undefined && args.against !== undefined) {
    io.err('expbench diff: give --baseline or --against, not both');
    return 1;
  }
  let inputs = args.inputs;
  if (inputs.length === 0) {
    const run = newestRun(resolve('.expbench/results'));
    if (!run) {
      io.err('expbench diff: no results given and none under .expbench/results; run the experiments first');
      return 1;
    }
    inputs = [run];
  }
  try {
    const { records, warnings } = await loadRecords(inputs);
    for (const w of warnings) io.err(`warning: ${w}`);
    if (records.length === 0) {
      io.err(`expbench diff: no result records in ${inputs.join(', ')}`);
      return 1;
    }
    let vs: DiffAgainst = { kind: 'recorded' };
    if (args.baseline !== undefined) {
      const file = await readBaseline(resolve(args.baseline));
      if (!file) io.err(`warning: no baseline file at ${args.baseline}; nothing to compare with`);
      vs = {
        kind: 'other',
        label: `the baseline \`${args.baseline}\``,
        regressions: regressionsAgainst(records, file),
      };
    } else if (args.against !== undefined) {
      const before = await loadRecords(args.against);
      for (const w of before.warnings) io.err(`warning: ${w}`);
      const runs = [...new Set(before.records.map((r) => r.runId))].sort();
      vs = {
        kind: 'other',
        label: `run ${runs.map((r) => `\`${r}\``).join(', ')}`,
        regressions: regressionsAgainst(records, baselineOfRecords(before.records)),
      };
    }
    const text = renderDiff(records, vs);
    if (args.out !== undefined) {
      await mkdir(dirname(resolve(args.out)), { recursive: true });
      await writeFileAtomic(resolve(args.out), text, { encoding: 'utf8' });
      io.err(`wrote ${args.out}`);
    } else io.out(text);
    if (args.summary) await appendFile(args.summary, text, 'utf8');
    return 0;
  } catch (e) {
    if (e instanceof RecordError || e instanceof ExpbenchError) {
      io.err(`expbench diff: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`);
      return 1;
    }
    throw e;
  }
}
