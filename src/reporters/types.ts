/**
 * What every reporter has in common: it renders result records into files, and nothing else. A
 * reporter never reads logs or another reporter's state, so `expbench report` over merged shards
 * and the reporter at the end of a run give the same documents for the same records.
 */
import type { ResultRecord } from '../runner/record.ts';

/** One rendered file: a path relative to the output folder (forward slashes) and its text. */
export interface ReportFile {
  path: string;
  content: string;
}

export type Awaitable<T> = T | Promise<T>;

/** A reporter: renders records into files. Rendering is pure; writing is {@link writeReport}'s job. */
export interface Reporter {
  /** Short name, used in messages. */
  readonly name: string;
  render(records: readonly ResultRecord[]): Awaitable<ReportFile[]>;
}
