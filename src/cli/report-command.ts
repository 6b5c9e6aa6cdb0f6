/**
 * `expbench report [results…] --out docs/`: merges stored result records (files or folders, e.g. the
 * result folders of several shards) and regenerates the comparison documents from them.
 */
import { relative } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { ExpbenchError } from '../errors.ts';
import { builtinReporters, isBuiltinReporter, writeReport, type BuiltinReporterName } from '../reporters/index.ts';
import { loadRecords, RecordError } from '../reporters/records.ts';
import type { CaseStatus, ResultRecord } from '../runner/record.ts';

export interface ReportCommandArgs {
  /** Record files and/or folders searched recursively for `*.json`. */
  inputs: string[];
  /** Output folder. */
  out: string;
  /** Built-in reporter names; all of them when absent. */
  reporters?: string[];
  /** Only records of this profile (`''` for the files' base values); needed when the inputs mix profiles. */
  profile?: string;
}

/** Where the command prints; the process streams unless a caller (a test) passes others. */
export interface ReportCommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const processIo: ReportCommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const STATUS_ORDER: readonly CaseStatus[] = ['passed', 'partial', 'failed', 'crashed', 'skipped'];

function show(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') ? rel : path;
}

/**
 * Runs the command and returns the exit code: 0 when the report was written, 1 when an input was
 * rejected (every rejected file is listed), no record was found, or a reporter name is unknown.
 * Warnings (duplicates resolved, files ignored) are printed and do not fail the command.
 */
export async function runReportCommand(args: ReportCommandArgs, io: ReportCommandIo = processIo): Promise<number> {
  const names = (args.reporters ?? Object.keys(builtinReporters)).map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !isBuiltinReporter(n));
  if (unknown.length > 0) {
    const known = Object.keys(builtinReporters);
    for (const n of unknown) {
      io.err(
        `expbench report: unknown reporter "${n}"; did you mean "${closest(n, known)}"? Known reporters: ${known.join(', ')}`,
      );
    }
    return 1;
  }
  if (args.inputs.length === 0) {
    io.err('expbench report: no inputs; pass result folders or record files (e.g. .expbench/results)');
    return 1;
  }

  const profiles = profileChoice(args.profile);
  let loaded: Awaited<ReturnType<typeof loadRecords>>;
  try {
    loaded = await loadRecords(args.inputs, { keep: (r) => profiles.see(r) });
  } catch (err) {
    if (err instanceof RecordError) {
      io.err(`expbench report: ${err.message}`);
      if (err.hint) io.err(`hint: ${err.hint}`);
      return 1;
    }
    throw err;
  }
  const { records, warnings } = loaded;
  for (const w of warnings) io.err(`warning: ${w}`);
  if (!profiles.check(io)) return 1;
  if (records.length === 0) {
    io.err(
      `expbench report: no result records found in ${args.inputs.join(', ')}; run experiments first (vitest run or expbench run)`,
    );
    return 1;
  }

  const runs = new Set(records.map((r) => r.runId));
  const byStatus = new Map<string, number>(STATUS_ORDER.map((s) => [s, 0]));
  for (const r of records) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  io.out(
    `merged ${records.length} result record${records.length === 1 ? '' : 's'} from ${runs.size} run${runs.size === 1 ? '' : 's'} ` +
      `(${[...byStatus]
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ')}) from ${args.inputs.join(', ')}`,
  );

  try {
    const written = await writeReport(records, args.out, { reporters: names as BuiltinReporterName[] });
    for (const file of written) io.out(`wrote ${show(file)}`);
  } catch (err) {
    if (err instanceof ExpbenchError) {
      io.err(`expbench report: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
      return 1;
    }
    throw err;
  }
  return 0;
}

const profileName = (p: string | null): string => (p === null || p === '' ? '(base values)' : p);

/**
 * Which profile's records a report shows: the one asked for, or the only one present. Records of
 * different profiles (a `ci` run beside a `paper` run) measure different workloads, so a report never
 * mixes them; they are told apart before the newest record of each case is chosen.
 */
function profileChoice(wanted: string | undefined) {
  const counts = new Map<string, number>();
  const shown = (): string =>
    [...counts]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, n]) => `${p}: ${n}`)
      .join(', ');
  return {
    /** Counts a record's profile; true when it belongs in the report. */
    see(r: ResultRecord): boolean {
      const name = profileName(r.experiment.profile);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return wanted === undefined || name === profileName(wanted);
    },
    /** False (with the reason printed) when the asked profile has no record, or none was asked and several were seen. */
    check(io: ReportCommandIo): boolean {
      if (wanted !== undefined) {
        if (counts.has(profileName(wanted)) || counts.size === 0) return true;
        io.err(`expbench report: no records of profile ${profileName(wanted)}; the inputs hold ${shown()}`);
        return false;
      }
      if (counts.size <= 1) return true;
      io.err(`expbench report: the records are of ${counts.size} profiles (${shown()}); a report shows one`);
      io.err(
        `hint: choose one with --profile <name> (${[...counts.keys()]
          .map((p) => (p.startsWith('(') ? "''" : p))
          .sort()
          .join(', ')}), or pass the folder of one run (.expbench/results/<run id>)`,
      );
      return false;
    },
  };
}
