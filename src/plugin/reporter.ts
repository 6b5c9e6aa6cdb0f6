/**
 * The Vitest reporter that closes a run: it reads this run's result records (never Vitest's own
 * state) and writes the comparison report beside them, so `vitest run` and `expbench run` produce the
 * same documents from the same records. Under GitHub Actions (`GITHUB_STEP_SUMMARY` set) it also
 * appends the pull-request report (src/reporters/diff.ts) to the job's summary.
 */
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import type { TestModule, Vitest } from 'vitest/node';
import type { Reporter } from 'vitest/reporters';
import { nameFilterMatchedNothing } from './name-filter.ts';
import { runSettings } from './settings.ts';

export interface ExpbenchReporterOptions {
  /**
   * Folder the report is written to.
   * @default EXPBENCH_REPORT_DIR or .expbench/report
   */
  outDir?: string;
  /**
   * Print the paths written.
   * @default true
   */
  verbose?: boolean;
}

export class ExpbenchReporter implements Reporter {
  private namePattern: RegExp | undefined;

  constructor(private readonly options: ExpbenchReporterOptions = {}) {}

  onInit(vitest: Vitest): void {
    this.namePattern = vitest.config.testNamePattern;
  }

  async onTestRunEnd(testModules: ReadonlyArray<TestModule> = []): Promise<void> {
    // A -t filter that selects no test is a mistake, not a passing run (and its report would show nothing).
    if (nameFilterMatchedNothing(this.namePattern, testModules)) return;
    const settings = runSettings();
    if (!existsSync(settings.resultsDir)) return; // no experiment ran
    const { loadRecords } = await import('../reporters/records.ts');
    const { writeReport } = await import('../reporters/index.ts');
    const { records, warnings } = await loadRecords([settings.resultsDir]);
    if (records.length === 0) return;
    const outDir = this.options.outDir ?? settings.reportDir;
    const written = await writeReport(records, outDir);
    const { appendHistory, currentCommit, historyPoints } = await import('../runner/history.ts');
    await appendHistory(settings.historyFile, historyPoints(records, currentCommit()));
    written.push(settings.historyFile);
    const summary = process.env.GITHUB_STEP_SUMMARY;
    if (summary) {
      const { renderDiff } = await import('../reporters/diff.ts');
      await appendFile(summary, renderDiff(records), 'utf8');
      written.push(summary);
    }
    if (this.options.verbose ?? true) {
      for (const w of warnings) process.stderr.write(`expbench: ${w}\n`);
      process.stderr.write(
        `expbench: ${records.length} result records in ${settings.resultsDir}\nexpbench: report written: ${written.join(', ')}\n`,
      );
    }
  }
}
