/**
 * The comparison document, `comparison.md`: the environment the records were measured in, then
 * tables mirroring the study (Table 2 times, Table 3 memory), the declared figures (the study's Fig. 2
 * and Fig. 3 among them) linked and tabled, accuracy, the argmax overhead, install sizes, the checks and a status line for
 * every case, so a backend that could not run shows why instead of disappearing. Output depends only
 * on the records: no clock, no locale, no machine state, so regenerated docs diff cleanly. The
 * sections live in `markdown-*.ts` (cells, environment, phase tables, memory, declared figures); this module
 * puts them in order.
 */
import type { ResultRecord } from '../runner/record.ts';
import type { ReportFile, Reporter } from './types.ts';
import { ReasonLetters, REASONS_HEADING } from './reasons.ts';
import { checksSection } from './checks-view.ts';
import { installSection } from './install-section.ts';
import { opProfileSection } from './op-profile.ts';
import type { MarkdownOptions, Ctx } from './markdown-cells.ts';
import { intro, environmentSection } from './markdown-environment.ts';
import { declaredFiguresSection } from './markdown-declared.ts';
import { table3Section } from './markdown-memory.ts';
import { table2Section, accuracySection, argmaxSection, otherSection, statusSection } from './markdown-sections.ts';

export type { MarkdownOptions } from './markdown-cells.ts';

/** Renders `comparison.md`. */
export class MarkdownReporter implements Reporter {
  readonly name = 'markdown';
  private readonly options: Required<MarkdownOptions>;

  constructor(options: MarkdownOptions = {}) {
    this.options = {
      file: options.file ?? 'comparison.md',
      figuresDir: options.figuresDir ?? 'figures',
      embedFigures: options.embedFigures ?? true,
      title: options.title ?? 'TensorFlow.js vs ONNX Runtime: comparison',
    };
  }

  render(records: readonly ResultRecord[]): ReportFile[] {
    return [{ path: this.options.file, content: this.document(records) }];
  }

  /** The whole document as text. */
  document(records: readonly ResultRecord[]): string {
    const parts: string[] = [`# ${this.options.title}`, intro(records)];
    if (records.length === 0) {
      parts.push('No result records were given, so there is nothing to compare yet.');
      return `${parts.join('\n\n')}\n`;
    }
    // One set of letters for the whole document, assigned in document order: a letter means the same
    // reason in every table.
    const ctx: Ctx = { letters: new ReasonLetters() };
    parts.push(environmentSection(records));
    const body: string[] = [];
    body.push(...table2Section(records, ctx));
    body.push(...table3Section(records, ctx));
    body.push(...declaredFiguresSection(records, this.options, ctx));
    body.push(...accuracySection(records, ctx));
    body.push(...argmaxSection(records, ctx));
    body.push(...otherSection(records, ctx));
    body.push(...opProfileSection(records));
    body.push(...installSection(records));
    body.push(...checksSection(records));
    body.push(statusSection(records, ctx));
    // Rendered after the tables (they assign the letters) but placed before them: what could not run
    // on these machines is the first thing to know when reading the figures.
    const reasons = ctx.letters.render();
    if (reasons !== undefined) {
      parts.push(
        `## ${REASONS_HEADING}\n\nCases that were skipped or failed, with the full reason; the tables show each as \`skipped: …\` or \`failed: CODE\` with its letter.\n\n${reasons}`,
      );
    }
    parts.push(...body);
    return `${parts.join('\n\n')}\n`;
  }
}
