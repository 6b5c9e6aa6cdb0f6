/**
 * Reporters: everything that turns result records into documents. Built-in reporters are named in
 * {@link builtinReporters}; {@link writeReport} renders a set of them and writes the files atomically.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, resolve, sep } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { ExpbenchError } from '../errors.ts';
import type { ResultRecord } from '../runner/record.ts';
import { CurvesReporter, type CurvesOptions } from './curves.ts';
import { JsonReporter, type JsonOptions } from './json.ts';
import { MarkdownReporter, type MarkdownOptions } from './markdown.ts';
import { SvgReporter, type SvgOptions } from './svg.ts';
import type { ReportFile, Reporter } from './types.ts';

export type { ReportFile, Reporter } from './types.ts';
export { MarkdownReporter, type MarkdownOptions } from './markdown.ts';
export { SvgReporter, type SvgOptions } from './svg.ts';
export { JsonReporter, reportBundle, type JsonOptions, type ReportBundle } from './json.ts';
export { CurvesReporter, type CurvesOptions } from './curves.ts';
export { loadRecords, RecordError, REPORT_SCHEMA, type LoadRecordsOptions, type LoadedRecords } from './records.ts';

/** The built-in reporters by name. */
export const builtinReporters = {
  markdown: MarkdownReporter,
  svg: SvgReporter,
  json: JsonReporter,
  curves: CurvesReporter,
};

export type BuiltinReporterName = keyof typeof builtinReporters;

/** Whether `name` is a built-in reporter's name. */
export function isBuiltinReporter(name: string): name is BuiltinReporterName {
  return Object.hasOwn(builtinReporters, name);
}

export interface WriteReportOptions {
  /**
   * Reporters to run: built-in names or reporter instances.
   * @default ['markdown', 'svg', 'json']
   */
  reporters?: (BuiltinReporterName | Reporter)[];
  /** Options of the markdown reporter. */
  markdown?: MarkdownOptions;
  /** Options of the SVG reporter. */
  svg?: SvgOptions;
  /** Options of the JSON reporter. */
  json?: JsonOptions;
  /** Options of the time-to-accuracy reporter. */
  curves?: CurvesOptions;
}

/** Creates a built-in reporter with its options from `opts`. */
export function createReporter(name: BuiltinReporterName, opts: WriteReportOptions = {}): Reporter {
  switch (name) {
    case 'markdown':
      return new MarkdownReporter(opts.markdown);
    case 'svg':
      return new SvgReporter(opts.svg);
    case 'json':
      return new JsonReporter(opts.json);
    case 'curves':
      return new CurvesReporter(opts.curves);
  }
}

/** Renders the records with every reporter, without writing (all or nothing: a throw renders none). */
export async function renderReport(
  records: readonly ResultRecord[],
  opts: WriteReportOptions = {},
): Promise<ReportFile[]> {
  const reporters = (opts.reporters ?? (Object.keys(builtinReporters) as BuiltinReporterName[])).map((r) =>
    typeof r === 'string' ? createReporter(r, opts) : r,
  );
  const files: ReportFile[] = [];
  const seen = new Map<string, string>();
  for (const reporter of reporters) {
    for (const file of await reporter.render(records)) {
      const clash = seen.get(file.path);
      if (clash !== undefined) {
        throw new ExpbenchError('USAGE', `reporters "${clash}" and "${reporter.name}" both write ${file.path}`, {
          hint: 'give one of them another file name in its options',
        });
      }
      seen.set(file.path, reporter.name);
      files.push(file);
    }
  }
  return files;
}

/**
 * Renders the records and writes every file under `outDir` atomically (temporary file, then rename),
 * so a reader never sees half a document. Everything is rendered before the first write. Returns the
 * written paths (absolute), in reporter order.
 */
export async function writeReport(
  records: readonly ResultRecord[],
  outDir: string,
  opts: WriteReportOptions = {},
): Promise<string[]> {
  const files = await renderReport(records, opts);
  const root = resolve(outDir);
  const written: string[] = [];
  for (const file of files) {
    const target = resolve(root, normalize(file.path));
    if (isAbsolute(file.path) || !(target === root || target.startsWith(root + sep))) {
      throw new ExpbenchError('USAGE', `a reporter asked to write ${file.path}, outside the output folder ${root}`, {
        hint: 'report file paths are relative to the output folder',
      });
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFileAtomic(target, file.content, { encoding: 'utf8' });
    written.push(target);
  }
  return written;
}
