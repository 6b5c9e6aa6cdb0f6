/**
 * "Install size": the bytes on disk of each backend's packages, as the records measured them where
 * they ran (`backend.installBytes`), so the document can compare what each framework costs to install
 * as well as to run.
 */
import type { ResultRecord } from '../runner/record.ts';
import { bytes } from './format.ts';
import { table } from './markdown-table.ts';
import { newestBy } from './newest.ts';
import { orderBackends } from './view.ts';

/** The section, or nothing when no record measured its packages. */
export function installSection(records: readonly ResultRecord[]): string[] {
  const measured = records.filter((r) => r.backend.installBytes && Object.keys(r.backend.installBytes).length > 0);
  if (measured.length === 0) return [];
  const byBackend = newestBy<string>(measured, (r) => r.backend.requested);
  const rows = orderBackends(byBackend.keys()).map((b) => {
    const sizes = byBackend.get(b)!.backend.installBytes!;
    const names = Object.keys(sizes).sort();
    return [
      `\`${b}\``,
      names.map((n) => `${n} ${bytes(sizes[n]!)}`).join(', '),
      bytes(names.reduce((a, n) => a + sizes[n]!, 0)),
    ];
  });
  return [
    [
      '## Install size',
      table(['Backend', 'Packages (size on disk)', 'Total'], rows, ['left', 'left', 'right']),
      'Bytes of every file of the packages each backend’s session reported using, as installed where the records were made (apparent sizes; a package’s own dependencies included, shared ones counted for each backend). A package that ships prebuilt binaries for several platforms counts them all.',
    ].join('\n\n'),
  ];
}
