/**
 * `results.json`: the merged records and a summary of them. It carries the `expbench/report@1`
 * schema tag, and {@link loadRecords} accepts it as input, so a published report can be merged again.
 */
import type { CaseStatus, ResultRecord } from '../runner/record.ts';
import { REPORT_SCHEMA } from './records.ts';
import type { ReportFile, Reporter } from './types.ts';
import { orderBackends } from './view.ts';

export interface JsonOptions {
  /**
   * Name of the file, relative to the output folder.
   * @default 'results.json'
   */
  file?: string;
  /**
   * Spaces of indentation; 0 writes one line.
   * @default 2
   */
  indent?: number;
}

/** What `results.json` holds. */
export interface ReportBundle {
  schema: typeof REPORT_SCHEMA;
  summary: {
    records: number;
    byStatus: Partial<Record<CaseStatus, number>>;
    runs: string[];
    experiments: string[];
    backends: string[];
    machines: string[];
    /** Earliest and latest `finishedAt` of the records; null without records. */
    finished: { from: string; to: string } | null;
  };
  /** Sorted by key, then run id. */
  records: ResultRecord[];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds the bundle (pure; exported for tools that want it without a file). */
export function reportBundle(records: readonly ResultRecord[]): ReportBundle {
  const sorted = [...records].sort((a, b) => cmp(a.key, b.key) || cmp(a.runId, b.runId));
  const byStatus: Partial<Record<CaseStatus, number>> = {};
  for (const r of sorted) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const times = sorted.map((r) => r.finishedAt).sort((a, b) => Date.parse(a) - Date.parse(b));
  return {
    schema: REPORT_SCHEMA,
    summary: {
      records: sorted.length,
      byStatus,
      runs: [...new Set(sorted.map((r) => r.runId))].sort(cmp),
      experiments: [...new Set(sorted.map((r) => r.experiment.name))].sort(cmp),
      backends: orderBackends(sorted.map((r) => r.backend.requested)),
      machines: [...new Set(sorted.map((r) => r.env.fingerprint))].sort(cmp),
      finished: times.length === 0 ? null : { from: times[0] as string, to: times[times.length - 1] as string },
    },
    records: sorted,
  };
}

/** Writes `results.json`. */
export class JsonReporter implements Reporter {
  readonly name = 'json';
  private readonly options: Required<JsonOptions>;

  constructor(options: JsonOptions = {}) {
    this.options = { file: options.file ?? 'results.json', indent: options.indent ?? 2 };
  }

  render(records: readonly ResultRecord[]): ReportFile[] {
    return [
      { path: this.options.file, content: `${JSON.stringify(reportBundle(records), null, this.options.indent)}\n` },
    ];
  }
}
