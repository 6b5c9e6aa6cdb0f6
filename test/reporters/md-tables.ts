/** Reads markdown tables back into cells, for assertions on rendered documents. */

/** Cells of a table row, unescaping `\|`. */
export function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** The first table after the line that starts with `heading`, as header + rows (the rule dropped). */
export function tableAfter(doc: string, heading: string): { header: string[]; rows: string[][] } {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  if (start === -1) throw new Error(`no line starting with ${heading}`);
  const first = lines.findIndex((l, i) => i > start && l.startsWith('|'));
  if (first === -1) throw new Error(`no table after ${heading}`);
  const block: string[] = [];
  for (let i = first; i < lines.length && (lines[i] as string).startsWith('|'); i++) block.push(lines[i] as string);
  const [header, , ...rows] = block;
  return { header: cells(header as string), rows: rows.map(cells) };
}

/** The cell in the row whose first cell is `row`, under the column headed `column`. */
export function cellAt(t: { header: string[]; rows: string[][] }, row: string, column: string): string {
  const c = t.header.indexOf(column);
  if (c === -1) throw new Error(`no column ${column} in ${t.header.join(' | ')}`);
  const r = t.rows.find((x) => x[0] === row);
  if (!r) throw new Error(`no row ${row} in ${t.rows.map((x) => x[0]).join(', ')}`);
  return r[c] as string;
}
