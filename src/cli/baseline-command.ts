/**
 * `expbench baseline update [results…]`: accepts stored result records as the new baseline. With no
 * inputs it takes the newest run under `.expbench/results`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadRecords } from '../reporters/records.ts';
import { updateBaseline } from '../runner/baseline.ts';

/**
 * The most recently modified run folder under `root` in which a case ran (not only skipped records:
 * a run whose `-t` filter or backend filter selected nothing must not hide the run before it).
 */
export function newestRun(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const runs = readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => statSync(d).isDirectory())
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return runs.find(ranACase);
}

/** True when a folder holds a record whose case did not just skip (unreadable files count as a run). */
function ranACase(dir: string): boolean {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      if ((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { status?: unknown }).status !== 'skipped') return true;
    } catch {
      return true;
    }
  }
  return false;
}

export async function runBaselineCommand(
  args: { action: string; inputs: string[]; file: string },
  io = { out: (s: string) => process.stdout.write(`${s}\n`), err: (s: string) => process.stderr.write(`${s}\n`) },
): Promise<number> {
  if (args.action !== 'update') {
    io.err(`expbench baseline: unknown action "${args.action}"; the action is \`update\``);
    return 2;
  }
  let inputs = args.inputs;
  if (inputs.length === 0) {
    const run = newestRun(resolve('.expbench/results'));
    if (!run) {
      io.err(
        'expbench baseline update: no results given and no run under .expbench/results in which a case ran; run `expbench run` first',
      );
      return 1;
    }
    inputs = [run];
  }
  const { records, warnings } = await loadRecords(inputs);
  for (const w of warnings) io.err(`warning: ${w}`);
  const usable = records.filter((r) => r.status === 'passed');
  if (usable.length === 0) {
    io.err(
      `expbench baseline update: no passed case among ${records.length} record(s) in ${inputs.join(', ')}; nothing to accept`,
    );
    return 1;
  }
  const summary = await updateBaseline(resolve(args.file), usable);
  for (const w of summary.written) io.out(`baseline: ${w.key} ${w.phase} (${w.samples} samples)`);
  for (const s of summary.skipped) io.err(`skipped ${s.key}: ${s.reason}`);
  io.out(`${summary.written.length} entries written to ${args.file}`);
  return 0;
}
