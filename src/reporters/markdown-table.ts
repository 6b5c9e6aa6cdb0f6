/** A small GitHub-flavoured markdown table writer. */

export type Align = 'left' | 'right' | 'center';

/** Makes text safe inside a table cell: no line breaks, no column separators. */
export function cell(text: string): string {
  return text
    .replace(/\r?\n+/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}

/** The first line of a message, shortened to `max` characters. */
export function firstLine(text: string, max = 120): string {
  const line = (text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Renders a table; `align` per column (default: first column left, the others right). Cells are not
 * padded, so a changed figure changes one line of the document, not every line of its table.
 */
export function table(header: string[], rows: string[][], align?: Align[]): string {
  const cols = header.length;
  const al = (i: number): Align => align?.[i] ?? (i === 0 ? 'left' : 'right');
  const line = (r: string[]) => `| ${Array.from({ length: cols }, (_, i) => cell(r[i] ?? '')).join(' | ')} |`;
  const rule = `|${Array.from({ length: cols }, (_, i) => {
    const a = al(i);
    return a === 'right' ? ' ---: ' : a === 'center' ? ' :---: ' : ' --- ';
  }).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
