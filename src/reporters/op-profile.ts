/**
 * The "where a training step's time goes" section of the comparison: for every case whose record
 * holds a per-operator profile (`profile: true`, `expbench run --profile-ops`), the step's split into
 * forward, backward and optimizer, its top operator types and, collapsed, its top graph nodes. Cases
 * that asked for a profile and got none say why.
 */
import type { ResultRecord } from '../runner/record.ts';
import { STEP_SECTIONS, type OpProfile, type StepSection } from '../vocab/op-profile.ts';
import { sig, percent } from './format.ts';
import { cell, table } from './markdown-table.ts';
import { byExperimentAndArch, orderBackends } from './view.ts';

/** Operator types shown per backend. */
export const TOP_OP_TYPES = 10;
/** Graph nodes shown (collapsed) per backend. */
export const TOP_NODES_SHOWN = 10;

const SECTION_NAMES: Record<StepSection, string> = {
  forward: 'forward',
  backward: 'backward',
  optimizer: 'optimizer',
  other: 'other',
};

function steps(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function ms(x: number): string {
  return `${sig(x)} ms`;
}

/** `forward 31.0 % · backward 62.5 % · optimizer 6.5 %` (empty sections left out). */
export function sectionSplit(p: OpProfile): string {
  return STEP_SECTIONS.filter((s) => p.sections[s].ms > 0)
    .map((s) => `${SECTION_NAMES[s]} ${percent(p.sections[s].share)} (${ms(p.sections[s].ms)})`)
    .join(' · ');
}

/** One backend's profile: what was measured, the section split, the top operators and nodes. */
export function profileBlock(backend: string, p: OpProfile): string {
  const head = `**${backend}** — batch ${p.batchSize}, per-node medians of ${steps(p.steps, 'profiled step')} after ${steps(p.warmupSteps, 'warm-up step')}: ${ms(p.stepMs)} per step under the profiler, ${ms(p.kernelMs)} in kernels; ${sectionSplit(p)}. Measured with ${p.source}; ${p.note}.`;
  const ops = table(
    ['operator', 'ms per step', 'share of kernel time', 'calls per step', 'forward', 'backward', 'optimizer'],
    p.byOpType
      .slice(0, TOP_OP_TYPES)
      .map((o) => [
        `\`${o.op}\``,
        sig(o.ms),
        percent(o.share),
        Number.isInteger(o.calls) ? String(o.calls) : sig(o.calls),
        o.sections.forward !== undefined ? sig(o.sections.forward) : '',
        o.sections.backward !== undefined ? sig(o.sections.backward) : '',
        o.sections.optimizer !== undefined ? sig(o.sections.optimizer) : '',
      ]),
  );
  const rest = p.byOpType.length - TOP_OP_TYPES;
  const more =
    rest > 0
      ? `\n\n${rest} more operator types: ${percent(p.byOpType.slice(TOP_OP_TYPES).reduce((s, o) => s + o.share, 0))} of the kernel time.`
      : '';
  const nodes = table(
    ['node', 'operator', 'section', 'ms per step', 'share'],
    p.byNode
      .slice(0, TOP_NODES_SHOWN)
      .map((n) => [`\`${cell(n.node)}\``, n.op, n.section, sig(n.ms), percent(n.share)]),
  );
  return `${head}\n\n${ops}${more}\n\n<details><summary>top ${Math.min(TOP_NODES_SHOWN, p.byNode.length)} nodes</summary>\n\n${nodes}\n\n</details>`;
}

/** The section, or nothing when no record has a profile or a reason for lacking one. */
export function opProfileSection(records: readonly ResultRecord[]): string[] {
  const groups = byExperimentAndArch(records.filter((r) => r.opProfile || r.opProfileSkipped));
  if (groups.length === 0) return [];
  const out = [
    "## Where a training step's time goes: top operators per backend",
    "Per-operator profiles of the training step, taken by each runtime's own profiler in a separate session after the timed phases (so they never slow a timed phase down). Profilers add overhead and time kernels one by one: the shares, not the absolute times, are what compares across backends.",
  ];
  for (const g of groups) {
    const byBackend = new Map<string, ResultRecord>(g.records.map((r) => [r.backend.requested, r]));
    const blocks = orderBackends([...byBackend.keys()]).map((b) => {
      const r = byBackend.get(b)!;
      return r.opProfile ? profileBlock(b, r.opProfile) : `**${b}** — no profile: ${r.opProfileSkipped}`;
    });
    out.push(`### Experiment \`${g.name}\` · model \`${g.arch}\`\n\n${blocks.join('\n\n')}`);
  }
  return out;
}
