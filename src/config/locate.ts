/**
 * From a path in the experiment's value (`['training', 'epochs']`) back to the text that wrote it.
 * Aliases are followed to the value they repeat, since that is where the offending text is.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode, ParsedNode } from 'yaml';

/** A path into the experiment value: mapping keys and list indices. */
export type ValuePath = ReadonlyArray<string | number>;

/** Where a path was found: the text span, and how much of the path exists in the document. */
export interface Located {
  start: number;
  end: number;
  /** Segments of the path that exist (equals the path's length when all of it was found). */
  depth: number;
  found: boolean;
}

/**
 * Finds the text of `path`. `target: 'value'` spans the value (or its key when the value is empty);
 * `target: 'key'` spans the key that holds it, for problems about the key itself (unknown key,
 * missing child key). When only a prefix of the path exists, the deepest existing node is used.
 */
export function locate(doc: Document.Parsed, path: ValuePath, target: 'value' | 'key'): Located {
  let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
  let key: YamlNode | null = null;
  let depth = 0;
  for (const seg of path) {
    node = deref(doc, node);
    let next: YamlNode | null | undefined;
    let nextKey: YamlNode | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) break;
      next = pair.value as YamlNode | null;
      nextKey = pair.key as YamlNode | null;
    } else if (isSeq(node)) {
      const i = typeof seg === 'number' ? seg : Number(seg);
      next = Number.isInteger(i) ? (node.items[i] as YamlNode | undefined) : undefined;
      if (next === undefined) break;
    } else {
      break;
    }
    node = next;
    key = nextKey;
    depth++;
  }
  const found = depth === path.length;
  const span = (n: YamlNode | null | undefined): [number, number] | undefined => {
    const r = n?.range;
    if (!r) return undefined;
    return [r[0], Math.max(r[0] + 1, r[1])];
  };
  const keySpan = span(key);
  let valueSpan = span(node);
  // An empty value (`epochs:` with nothing after it) has a zero-width range; point at the key instead.
  if (valueSpan && node?.range && node.range[0] === node.range[1] && keySpan) valueSpan = keySpan;
  const chosen = (target === 'key' ? (keySpan ?? valueSpan) : (valueSpan ?? keySpan)) ?? [0, 1];
  return { start: chosen[0], end: chosen[1], depth, found };
}

/**
 * Locates the first candidate path that exists in full; otherwise the one that exists deepest
 * (counting from each candidate's `base` length, so a profile's `profiles.<name>` prefix does not
 * count as depth).
 */
export function locateFirst(
  doc: Document.Parsed,
  candidates: Array<{ path: ValuePath; base: number }>,
  target: 'value' | 'key',
): Located & { candidate: number } {
  let best: (Located & { candidate: number; rel: number }) | undefined;
  for (const [i, c] of candidates.entries()) {
    const l = locate(doc, c.path, target);
    if (l.found) return { ...l, candidate: i };
    const rel = l.depth - c.base;
    if (!best || rel > best.rel) best = { ...l, candidate: i, rel };
  }
  return best ?? { start: 0, end: 1, depth: 0, found: false, candidate: 0 };
}

function deref(doc: Document.Parsed, node: YamlNode | null | undefined): YamlNode | null | undefined {
  // Bounded: an alias to an alias is at most as long as the document's anchors.
  for (let i = 0; i < 100 && isAlias(node); i++) node = node.resolve(doc) as ParsedNode | undefined;
  return node;
}

function keyText(k: unknown): string {
  if (isScalar(k)) return String(k.value);
  return String(k);
}
