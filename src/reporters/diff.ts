/**
 * The pull-request report: what a run changed, in compact markdown for a PR comment or
 * `$GITHUB_STEP_SUMMARY`. Per case, its status and failed checks (measured value and limit) with a
 * one-line command that reruns it; per case and timed phase, the median before and after, the change,
 * the regression gate's verdict in words (slower / faster / same / too noisy to tell / not
 * comparable / no baseline) and why, and the sample counts.
 *
 * "Before" is what the records were gated against when they ran (their stored regression checks), or
 * regression checks computed by the caller against a baseline file or another run's records
 * (`regressionsAgainst` in src/runner/checks.ts, the test run's gate and options). Pure: records in,
 * text out.
 */
import { relative } from 'node:path';
import type { CaseCheck, ResultRecord } from '../runner/record.ts';
import { describeOpGrowth } from '../vocab/op-profile.ts';
import { checkName, checkValue, failed, OUTCOME_WORDS } from './checks-view.ts';
import { sig } from './format.ts';
import { firstLine, table } from './markdown-table.ts';

/**
 * What the run is compared with: what each case was gated on when it ran (its stored regression
 * checks), or regression checks computed against something else, named by `label`.
 */
export type DiffAgainst =
  | { kind: 'recorded' }
  | { kind: 'other'; label: string; regressions: Map<string, CaseCheck[]> };

export interface DiffOptions {
  /** Folder the rerun commands are relative to. @default process.cwd() */
  cwd?: string;
  /** Heading. @default 'expbench: what this run changed' */
  title?: string;
}

/** Each record's regression checks as `vs` has them. */
function regressionsOf(records: readonly ResultRecord[], vs: DiffAgainst): Map<string, CaseCheck[]> {
  if (vs.kind === 'other') return vs.regressions;
  return new Map(records.map((r) => [r.key, (r.checks ?? []).filter((c) => c.kind === 'regression')]));
}

/** `npx vitest run <file> -t "<case>"`, with the profile the case ran under. */
export function rerunCommand(r: ResultRecord, cwd = process.cwd()): string {
  const file = relative(cwd, r.experiment.file) || r.experiment.file;
  // Vitest matches -t against the names of the nested blocks joined by spaces.
  const pattern = r.key
    .split(' › ')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join(' ');
  const profile = r.experiment.profile === null ? 'EXPBENCH_PROFILE= ' : `EXPBENCH_PROFILE=${r.experiment.profile} `;
  return `${profile}npx vitest run ${file} -t "${pattern}"`;
}

function change(before: number | null, after: number | null): string {
  if (before === null || after === null || !(before > 0)) return '—';
  const pct = (after / before - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %`;
}

function seconds(x: number | null): string {
  return x === null ? '—' : `${sig(x)} s`;
}

const VERDICT_ICON: Record<CaseCheck['verdict'], string> = { failed: '❌', passed: '✅', skipped: '➖' };

function against(a: DiffAgainst): string {
  if (a.kind === 'recorded') return 'the baseline each case was gated against when it ran';
  return a.label;
}

/** The pull-request report as markdown. */
export function renderDiff(
  records: readonly ResultRecord[],
  vs: DiffAgainst = { kind: 'recorded' },
  opts: DiffOptions = {},
): string {
  const cwd = opts.cwd ?? process.cwd();
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const regressions = regressionsOf(sorted, vs);
  // A case fails on its own checks; against another run its regression checks are the ones computed here.
  const failedOf = (r: ResultRecord): CaseCheck[] => [
    ...failed(r).filter((c) => vs.kind === 'recorded' || c.kind !== 'regression'),
    ...(vs.kind === 'recorded' ? [] : (regressions.get(r.key) ?? []).filter((c) => c.verdict === 'failed')),
  ];
  const statusOf = (r: ResultRecord): string => (r.status === 'passed' && failedOf(r).length > 0 ? 'failed' : r.status);
  const bad = sorted.filter((r) => !['passed', 'skipped'].includes(statusOf(r)));
  const parts: string[] = [`## ${opts.title ?? 'expbench: what this run changed'}`];
  parts.push(
    `${bad.length === 0 ? '✅ every case passed' : `❌ ${bad.length} of ${sorted.length} case${sorted.length === 1 ? '' : 's'} failed`}; ` +
      `timings compared with ${against(vs)}. Gate: a phase is *slower* only when the slowdown is both significant (one-sided Mann–Whitney U) and material (see src/runner/gate.ts).`,
  );

  parts.push(
    table(
      ['Case', 'Status', 'Failed checks (measured vs limit)', 'Rerun'],
      sorted.map((r) => {
        const f = failedOf(r);
        const status = statusOf(r);
        return [
          r.key,
          `${status === 'passed' ? '✅' : status === 'skipped' ? '➖' : '❌'} ${status}`,
          f.length > 0
            ? f
                .map((c) => `${checkName(c)}: ${checkValue(c.unit, c.measured)} vs ${checkValue(c.unit, c.limit)}`)
                .join('; ')
            : r.status === 'skipped'
              ? firstLine(r.skipReason ?? '', 120)
              : r.error && status !== 'failed'
                ? `${r.error.code}: ${firstLine(r.error.message, 120)}`
                : '',
          `\`${rerunCommand(r, cwd)}\``,
        ];
      }),
      ['left', 'left', 'left', 'left'],
    ),
  );

  const rows = sorted.flatMap((r) =>
    (regressions.get(r.key) ?? [])
      .filter((c) => c.gate)
      .map((c) => {
        const g = c.gate!;
        return [
          r.key,
          `${c.phase === 'buildInit' ? 'build+init' : c.phase} time`,
          seconds(g.baseline.median),
          seconds(g.current.median),
          change(g.baseline.median, g.current.median),
          `${VERDICT_ICON[c.verdict]} ${OUTCOME_WORDS[g.outcome]}`,
          `${g.baseline.n} → ${g.current.n}`,
          whyText(c),
        ];
      }),
  );
  if (rows.length > 0) {
    parts.push(
      table(['Case', 'Metric', 'Before', 'After', 'Change', 'Verdict', 'n', 'Why'], rows, [
        'left',
        'left',
        'right',
        'right',
        'right',
        'left',
        'right',
        'left',
      ]),
    );
  } else {
    const why = [...new Set([...regressions.values()].flat().map((c) => firstLine(c.reason, 200)))];
    parts.push(`No timing was compared${why.length > 0 ? `: ${why.join('; ')}` : ''}.`);
  }
  parts.push(
    'Before / After: medians over the repeats (n = samples before → after); Change: after / before − 1. Rerun a case locally with its command.',
  );
  return `${parts.join('\n\n')}\n`;
}

/** The gate's reason in short: the estimate and p for a comparison, the reason otherwise. */
function whyText(c: CaseCheck): string {
  const g = c.gate!;
  if (g.outcome === 'slower' || g.outcome === 'faster' || g.outcome === 'same') {
    const est = g.ratio === null ? '' : `estimate ×${sig(g.ratio)}`;
    const p = g.pValue === null ? '' : `p = ${g.pValue < 0.001 ? g.pValue.toExponential(1) : sig(g.pValue, 2)}`;
    const ops = c.ops?.length ? `; operators whose time grew (per step): ${describeOpGrowth(c.ops)}` : '';
    return `${[est, p].filter(Boolean).join(', ')}; gate threshold +${sig(g.threshold * 100)} %, α = ${g.alpha}${ops}`;
  }
  // The message opens with the case and metric, which the row already shows.
  const reason = firstLine(c.reason, 400);
  const i = reason.indexOf(': ');
  return firstLine(i === -1 ? reason : reason.slice(i + 2), 200);
}
