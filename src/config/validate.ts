/**
 * JSON Schema validation of an experiment value, and the translation of ajv's errors into located
 * diagnostics that say what is wrong in the file's own terms and how to fix it.
 */
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { BACKEND_IDS, knownBackendIds } from '../vocab/backends.ts';
import type { Diagnostic, DiagnosticCode, SourceText } from './diagnostics.ts';
import { locateFirst } from './locate.ts';
import type { ValuePath } from './locate.ts';
import { isUnknownMetric, unknownMetric } from './metrics-config.ts';
import { didYouMean } from './suggest.ts';
import { BACKEND_ID_TITLE, experimentSchema } from './schema.ts';
import type { JsonSchema } from './schema.ts';
import { checkBytes, checkDuration } from './units.ts';
import { isNode, type Document } from 'yaml';

export { didYouMean } from './suggest.ts';

// ajv ships CommonJS with a default export; under NodeNext the class is on `.default`.
const Ajv = AjvModule.default;

let compiled: ValidateFunction | undefined;

/** The compiled schema (compiled once per process, on first use). */
export function experimentValidator(): ValidateFunction {
  compiled ??= new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  }).compile(experimentSchema);
  return compiled;
}

/** Runs the schema over a value; returns ajv's raw errors (empty when valid). */
export function schemaErrors(value: unknown): ErrorObject[] {
  const validate = experimentValidator();
  return validate(value) ? [] : [...(validate.errors ?? [])];
}

/** Where an error's instance lives: the path in the value and the candidate paths in the document. */
export interface ErrorPlacement {
  /** Extra words for the message, e.g. ` (profile "quick")`. */
  context: string;
  /**
   * Prefixes of the document where the value's paths may be written, tried in order; `base` is the
   * prefix length. Plain validation uses `[{ prefix: [], base: 0 }]`; a merged profile tries the
   * profile first, then the base.
   */
  prefixes: Array<{ prefix: ValuePath; base: number }>;
}

/** Splits a JSON Pointer into segments, numbers for list indices. */
export function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** `training.optimizer.lr`, `backends[1]`, or `the experiment` for the root. */
export function pathLabel(path: ValuePath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? 'the experiment' : out;
}

/**
 * Translates ajv errors into diagnostics. Errors that only restate another (`if` wrappers, the inner
 * error of `propertyNames`) are dropped; everything else becomes one diagnostic.
 */
export function schemaDiagnostics(
  errors: ErrorObject[],
  src: SourceText,
  doc: Document.Parsed,
  placement: ErrorPlacement,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const e of errors) {
    if (e.keyword === 'if' || e.propertyName !== undefined) continue;
    const d = describeError(e);
    if (!d) continue;
    const path = pointerToPath(e.instancePath);
    const target = [...path, ...d.extra];
    const loc = locateFirst(
      doc,
      placement.prefixes.map((p) => ({ path: [...p.prefix, ...target], base: p.base })),
      d.at,
    );
    const tagged = taggedNode(doc, placement, target);
    const { message, hint } = tagged ? explainTag(d, tagged, e.keyword) : d;
    out.push(
      src.at(loc.start, loc.end, {
        code: d.code,
        reason: e.keyword,
        message: message + placement.context,
        hint,
        path: toPointer(target),
      }),
    );
  }
  return out;
}

/** The YAML tag written on the value at `target` (`tag:yaml.org,2002:str` for `!!str`), if any. */
function taggedNode(doc: Document.Parsed, placement: ErrorPlacement, target: ValuePath): string | undefined {
  for (const p of placement.prefixes) {
    const node = doc.getIn([...p.prefix, ...target], true);
    if (isNode(node)) return node.tag;
  }
  return undefined;
}

/**
 * A schema error on a value with an explicit tag is the tag's doing: `!!str 10` is text, though no
 * quotes are there to remove; `!!binary …` is binary data, not the mapping its object form suggests.
 */
function explainTag(d: Described, tag: string, keyword: string): { message: string; hint: string } {
  const short = tag.replace(/^tag:yaml\.org,2002:/, '!!');
  if (short === '!!binary')
    return {
      message: d.message.replace(/, got .*$/, ', got binary data (a `!!binary` value)'),
      hint: 'experiment files need no YAML tags; write the value plainly, without `!!binary`',
    };
  if (keyword === 'type')
    return {
      message: d.message,
      hint: `the \`${short}\` tag sets this value's type; remove the tag and write the value plainly (e.g. \`epochs: 10\`)`,
    };
  return d;
}

/**
 * ` (its "а" is U+0430, not an ASCII character)` when a word holds a character outside ASCII, else
 * ''. A look-alike letter (Cyrillic а in `nаme`) otherwise reads as the same word twice.
 */
export function nonAsciiNote(word: string): string {
  const m = /[^\x20-\x7E]/u.exec(word);
  if (!m) return '';
  const code = m[0].codePointAt(0)!;
  return ` (its "${m[0]}" is U+${code.toString(16).toUpperCase().padStart(4, '0')}, not an ASCII character)`;
}

function toPointer(path: ValuePath): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface Described {
  code: DiagnosticCode;
  message: string;
  hint: string;
  /** Path segments below the instance that the problem is about (the unknown key). */
  extra: Array<string | number>;
  at: 'value' | 'key';
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  object: 'a mapping (key: value lines)',
  array: 'a list',
  boolean: 'true or false',
  null: 'empty',
};

function describeError(e: ErrorObject): Described | undefined {
  const path = pointerToPath(e.instancePath);
  const label = pathLabel(path);
  const key = path[path.length - 1];
  const parent = e.parentSchema as JsonSchema | undefined;
  const fieldHint = (): string => describeField(key, parent);
  const base = { code: 'SCHEMA' as DiagnosticCode, extra: [] as Array<string | number>, at: 'value' as const };
  const p = e.params as Record<string, unknown>;
  // A key of expect that is neither a budget nor a metric: say so, not that its value has the wrong shape.
  if (typeof key === 'string' && e.instancePath.endsWith(`/expect/${key}`) && isUnknownMetric(key))
    return { ...base, at: 'key', ...unknownMetric(key) };

  switch (e.keyword) {
    case 'additionalProperties': {
      const prop = String(p.additionalProperty);
      const allowed = Object.keys((parent?.properties as Record<string, unknown> | undefined) ?? {});
      const inProfile = path.length === 2 && path[0] === 'profiles';
      if (inProfile && (prop === 'name' || prop === 'profiles')) {
        return {
          ...base,
          extra: [prop],
          at: 'key',
          message: `profile "${String(path[1])}" cannot override "${prop}"`,
          hint:
            prop === 'name'
              ? 'the name identifies results and baselines across profiles; set it once, at the top level'
              : 'profiles cannot nest; define every profile at the top level',
        };
      }
      return {
        ...base,
        extra: [prop],
        at: 'key',
        message: `unknown key "${prop}"${nonAsciiNote(prop)} in ${path.length === 0 ? 'the experiment' : label}`,
        hint: unknownKeyHint(prop, allowed, path),
      };
    }
    case 'required': {
      const missing = String(p.missingProperty);
      const desc = describeProperty(parent, e.data, missing);
      return {
        ...base,
        at: 'key',
        message:
          path.length === 0 ? `missing required key "${missing}"` : `missing required key "${missing}" in ${label}`,
        hint: `add \`${missing}:\` ${path.length === 0 ? 'at the top level' : `under ${label}`}${desc ? ` (${missing}: ${desc})` : ''}`,
      };
    }
    case 'type': {
      const types = Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(',');
      const want = types.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      return {
        ...base,
        message: `${label} must be ${want}, got ${describeValue(e.data)}`,
        hint: typeHint(e.data, types) ?? fieldHint(),
      };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      if (parent?.title === BACKEND_ID_TITLE) {
        // Test-only backends are accepted and guessed, but not offered in the list.
        const guess = didYouMean(String(e.data), knownBackendIds());
        return {
          ...base,
          code: 'UNKNOWN_BACKEND',
          message: `unknown backend ${JSON.stringify(e.data)}${nonAsciiNote(String(e.data))} in ${label}`,
          hint: `${guess ? `did you mean "${guess}"? ` : ''}known backends: ${BACKEND_IDS.join(', ')}`,
        };
      }
      const guess = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
      if ((e.schemaPath ?? '') === '#/definitions/layer/then/enum') {
        return {
          ...base,
          message: `unknown layer ${describeValue(e.data)} in ${label}`,
          hint: `${guess ? `did you mean "${guess}"? ` : ''}a layer is ${allowed.join(', ')}, or one key with options: conv: 64, maxpool: 2, dense: 256, dropout: 0.5, batchnorm: {momentum: 0.9}`,
        };
      }
      return {
        ...base,
        message: `${label} must be one of ${allowed.join(', ')}; got ${describeValue(e.data)}${typeof e.data === 'string' ? nonAsciiNote(e.data) : ''}`,
        hint: guess ? `did you mean "${guess}"?` : `use one of ${allowed.join(', ')}`,
      };
    }
    case 'const':
      return {
        ...base,
        message: `${label} must be ${JSON.stringify(p.allowedValue)}, got ${describeValue(e.data)}`,
        hint: fieldHint(),
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const words = {
        minimum: 'at least',
        maximum: 'at most',
        exclusiveMinimum: 'more than',
        exclusiveMaximum: 'less than',
      }[e.keyword];
      const limit = Number(p.limit);
      const isUnit = (e.schemaPath ?? '').includes('/duration/') || (e.schemaPath ?? '').includes('/bytes/');
      return {
        ...base,
        message: `${label} must be ${words} ${fmtNumber(limit)}${isUnit && (e.schemaPath ?? '').includes('/duration/') ? ' seconds' : ''}, got ${fmtNumber(Number(e.data))}`,
        hint: fieldHint(),
      };
    }
    case 'pattern': {
      const sp = e.schemaPath ?? '';
      if (sp.includes('/duration/') || sp.includes('/bytes/')) {
        const r = sp.includes('/duration/') ? checkDuration(e.data) : checkBytes(e.data);
        const msg = r.ok ? `${label}: cannot read ${JSON.stringify(e.data)}` : `${label}: ${r.message}`;
        return { ...base, message: msg, hint: r.ok ? fieldHint() : r.hint };
      }
      if (path.length === 1 && path[0] === 'name') {
        return {
          ...base,
          message: `name ${describeValue(e.data)} is not a valid experiment name`,
          hint: 'use letters, digits, `.`, `_` and `-` (start with a letter or digit, at most 80 characters), e.g. `table2-vgg-small`',
        };
      }
      return {
        ...base,
        message: `${label} ${describeValue(e.data)} does not have the expected form`,
        hint: fieldHint(),
      };
    }
    case 'propertyNames':
      return {
        ...base,
        extra: [String(p.propertyName)],
        at: 'key',
        message: `invalid name ${JSON.stringify(p.propertyName)} in ${label}`,
        hint: 'use letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 40 characters)',
      };
    case 'uniqueItems': {
      const i = Number(p.i);
      const j = Number(p.j);
      const later = Math.max(i, j);
      const list = Array.isArray(e.data) ? e.data : [];
      return {
        ...base,
        extra: [later],
        message: `${label} lists ${describeValue(list[later])} twice (items ${Math.min(i, j) + 1} and ${later + 1})`,
        hint: 'remove the repeated entry',
      };
    }
    case 'minItems':
      return {
        ...base,
        message: `${label} must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`,
        hint: fieldHint(),
      };
    case 'maxItems':
      return {
        ...base,
        message: `${label} may have at most ${String(p.limit)} items, has ${Array.isArray(e.data) ? e.data.length : '?'}`,
        hint: fieldHint(),
      };
    case 'minLength':
      return { ...base, message: `${label} must not be empty`, hint: fieldHint() };
    case 'maxLength':
      return {
        ...base,
        message: `${label} may be at most ${fmtNumber(Number(p.limit))} characters long, is ${typeof e.data === 'string' ? fmtNumber(e.data.length) : '?'}`,
        hint: 'shorten it; put long notes in a comment or a separate document',
      };
    case 'minProperties':
    case 'maxProperties': {
      const isLayer = (e.schemaPath ?? '').startsWith('#/definitions/layer/m');
      const keys = e.data && typeof e.data === 'object' ? Object.keys(e.data) : [];
      if (isLayer) {
        return {
          ...base,
          message:
            keys.length === 0
              ? `${label} is an empty layer`
              : `${label} has ${keys.length} keys (${keys.join(', ')}); a layer is one key such as \`conv: 64\``,
          hint: 'write one layer per `- ` line: `- conv: 64`, `- relu`, `- maxpool: 2`, `- dense: 256`',
        };
      }
      return {
        ...base,
        message: `${label} takes no options, got ${keys.join(', ')}`,
        hint: `write just \`- ${String(key)}\``,
      };
    }
    default:
      return { ...base, message: `${label} ${e.message ?? 'is invalid'}`, hint: fieldHint() };
  }
}

/** Where in the format each key name is valid, for "this key belongs under training:" hints. */
let keyHomes: Map<string, string[]> | undefined;
function homesOf(key: string): string[] {
  if (!keyHomes) {
    keyHomes = new Map();
    const add = (k: string, where: string): void => {
      const list = keyHomes!.get(k) ?? [];
      if (!list.includes(where)) list.push(where);
      keyHomes!.set(k, list);
    };
    const walk = (s: JsonSchema, prefix: string): void => {
      const props = s.properties as Record<string, JsonSchema> | undefined;
      for (const [k, v] of Object.entries(props ?? {})) {
        add(k, prefix ? `${prefix}.${k}` : k);
        if (prefix.split('.').length < 3) walk(v, prefix ? `${prefix}.${k}` : k);
      }
      for (const branch of (s.allOf as JsonSchema[] | undefined) ?? []) {
        if (branch.then) walk(branch.then as JsonSchema, prefix);
      }
    };
    walk(experimentSchema, '');
  }
  return keyHomes.get(key) ?? [];
}

function unknownKeyHint(prop: string, allowed: string[], path: ValuePath): string {
  if (prop === '<<') return 'merge keys (`<<: *anchor`) are not supported; use profiles for variants of an experiment';
  const guess = didYouMean(prop, allowed);
  if (guess) return `did you mean "${guess}"?`;
  // Inside a profile the same keys are valid as at the top level.
  const rel = path[0] === 'profiles' ? path.slice(2) : path;
  const here = rel.length === 0 ? '' : pathLabel(rel.filter((s) => typeof s === 'string'));
  if (here === 'dataset') {
    const kinds = datasetKindsWith(prop);
    if (kinds.length > 0)
      return `"${prop}" is only used with dataset kind ${kinds.join(' or ')}; allowed keys here: ${allowed.join(', ')}`;
  }
  const homes = homesOf(prop)
    .map((h) => h.split('.').slice(0, -1).join('.'))
    .filter((parent) => parent !== here);
  if (homes.length > 0)
    return `"${prop}" belongs under ${homes.map((h) => (h === '' ? 'the top level' : `${h}:`)).join(' or ')}`;
  return allowed.length > 0 ? `allowed keys here: ${allowed.join(', ')}` : 'remove it';
}

/** Dataset kinds whose branch of the schema has a property named `prop`. */
function datasetKindsWith(prop: string): string[] {
  const ds = (experimentSchema.properties as Record<string, JsonSchema>).dataset!;
  const out: string[] = [];
  for (const b of (ds.allOf as JsonSchema[] | undefined) ?? []) {
    const kind = ((b.if as JsonSchema).properties as Record<string, JsonSchema>).kind?.const;
    const props = (b.then as JsonSchema).properties as Record<string, unknown>;
    if (typeof kind === 'string' && Object.hasOwn(props, prop)) out.push(kind);
  }
  return out;
}

/** The description of a property of `parent`, looking into the `then` branch that applies to `data`. */
function describeProperty(parent: JsonSchema | undefined, data: unknown, prop: string): string | undefined {
  if (!parent) return undefined;
  const direct = (parent.properties as Record<string, JsonSchema> | undefined)?.[prop];
  const kind = data && typeof data === 'object' ? (data as Record<string, unknown>).kind : undefined;
  for (const b of (parent.allOf as JsonSchema[] | undefined) ?? []) {
    const ifKind = ((b.if as JsonSchema | undefined)?.properties as Record<string, JsonSchema> | undefined)?.kind
      ?.const;
    if (ifKind !== undefined && ifKind === kind) {
      const p = ((b.then as JsonSchema).properties as Record<string, JsonSchema> | undefined)?.[prop];
      if (p?.description && p !== direct) return String(p.description);
    }
  }
  if (direct?.description) return String(direct.description);
  return undefined;
}

function describeField(key: string | number | undefined, schema: JsonSchema | undefined): string {
  const d = schema?.description;
  if (typeof key === 'string' && d) return `${key}: ${String(d)}`;
  if (d) return String(d);
  return 'see schema/experiment.schema.json for the format';
}

function typeHint(data: unknown, types: string[]): string | undefined {
  const wantsNumber = types.includes('number') || types.includes('integer');
  if (
    typeof data === 'string' &&
    wantsNumber &&
    data.trim() !== '' &&
    Number.isFinite(Number(data.replace(/_/g, '')))
  ) {
    return 'remove the quotes (or the `_` separators): numbers are written plainly, e.g. `epochs: 10`';
  }
  if (types.includes('integer') && typeof data === 'number' && !Number.isInteger(data)) return 'use a whole number';
  if (types.includes('boolean') && typeof data === 'string' && /^(yes|no|on|off|y|n)$/i.test(data)) {
    return 'YAML 1.2 reads yes/no/on/off as text; write true or false';
  }
  if (data === null) return 'the value is missing after the `:`; write it on the same line';
  if (types.includes('object') && Array.isArray(data))
    return 'remove the `- ` markers: this takes `key: value` lines, not a list';
  if (types.includes('array') && data !== null && typeof data === 'object')
    return 'this takes a list: put `- ` before each entry';
  if (types.includes('array') && typeof data === 'string')
    return `write a list: [${data}] or one \`- ${data}\` line per entry`;
  return undefined;
}

/** A value in a message: strings quoted and cut, lists and mappings named. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (an empty value)';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number') return fmtNumber(v);
  return String(v);
}

function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) >= 10_000 && Math.abs(n) < 1e21) return n.toLocaleString('en-US');
  return String(n);
}
