/**
 * `matrix:` — an experiment run over the product of values of any scalar keys of the file
 * (`inference.batchSize: [1, 8, 64]`, `model.width: [0.25, 0.5]`, `training.seed: [1, 2, 3]`), each
 * point a group of cases with a stable label (`inference.batchSize=8, model.width=0.5`) that names its
 * tests and baseline keys. `sweep: { arch: [...] }` is the special case of one `model.arch` axis whose
 * label is the bare architecture, as before. Each point is the file with its values written in, checked
 * and normalised as a file of its own by the loader.
 */
import type { JsonSchema } from './schema.ts';

/** A value of a matrix axis: the scalar written into its key. */
export type MatrixValue = string | number | boolean;

export interface MatrixAxis {
  /** Dotted path of the key, e.g. `inference.batchSize`. */
  key: string;
  values: MatrixValue[];
  /** Label points by the bare value (`vgg16`) rather than `key=value` (the architecture sweep). */
  bare?: boolean;
}

/** One point of the matrix: its label and the value of every axis. */
export interface MatrixPointSpec {
  label: string;
  values: Record<string, MatrixValue>;
}

/** Most cases (points × backends) one experiment may expand to; more is refused before anything runs. */
export const MATRIX_LIMIT = 256;

/** Most values one axis may list. */
const AXIS_LIMIT = 64;

/** Top-level keys whose scalar leaves may be matrix axes (the others name, describe or budget the run). */
const AXIS_ROOTS = ['dataset', 'model', 'training', 'inference', 'repeats', 'warmup', 'parity'] as const;

const isScalarSchema = (s: JsonSchema): boolean => {
  const types = ([] as unknown[]).concat(s.type ?? (s.enum ? 'string' : s.const !== undefined ? 'const' : []));
  return types.length > 0 && types.every((t) => t === 'number' || t === 'integer' || t === 'string' || t === 'boolean');
};

/**
 * The `matrix:` mapping of the format, built from the format's own keys: one property per scalar leaf
 * under {@link AXIS_ROOTS}, each a list of values checked by that leaf's own schema (so a bad value is
 * located at itself). Dataset keys come from the synthetic kind, which has them all; paths and the
 * `kind` discriminator are not axes.
 */
export function buildMatrixSchema(body: Record<string, JsonSchema>): JsonSchema {
  const axes: Record<string, JsonSchema> = {};
  const walk = (s: JsonSchema, path: string): void => {
    if (isScalarSchema(s)) {
      const { default: _d, description, ...item } = s;
      axes[path] = {
        type: 'array',
        description: `Values of ${path} to run in turn${description ? ` (${String(description)})` : ''}.`,
        items: item,
        minItems: 1,
        maxItems: AXIS_LIMIT,
        uniqueItems: true,
      };
      return;
    }
    let props = s.properties as Record<string, JsonSchema> | undefined;
    if (path === 'dataset') {
      const synthetic = (s.allOf as JsonSchema[]).find(
        (b) => ((b.if as JsonSchema).properties as Record<string, JsonSchema>).kind!.const === 'synthetic',
      );
      props = (synthetic!.then as JsonSchema).properties as Record<string, JsonSchema>;
    }
    for (const [k, v] of Object.entries(props ?? {})) {
      if (k === 'kind' || k === 'path' || k === 'enabled' || k === 'reference') continue;
      walk(v, `${path}.${k}`);
    }
  };
  for (const root of AXIS_ROOTS) walk(body[root]!, root);
  // A matrix over architectures runs each as a whole model; `custom` needs layers, which are not a scalar.
  const arch = axes['model.arch']!.items as JsonSchema;
  axes['model.arch']!.items = { ...arch, enum: (arch.enum as string[]).filter((a) => a !== 'custom') };
  return {
    type: 'object',
    description: `Run the experiment over the product of these keys' values, each point a group of cases named \`key=value\` (at most ${MATRIX_LIMIT} cases with the backends).`,
    additionalProperties: false,
    minProperties: 1,
    properties: axes,
  };
}

/** The axes of a file: its sweep (bare labels) first, then its matrix keys in file order. */
export function matrixAxes(sweep: unknown, matrix: unknown): MatrixAxis[] {
  const axes: MatrixAxis[] = [];
  const arch = (sweep as { arch?: string[] } | undefined)?.arch;
  if (arch) axes.push({ key: 'model.arch', values: [...arch], bare: true });
  for (const [key, values] of Object.entries((matrix ?? {}) as Record<string, MatrixValue[]>))
    axes.push({ key, values: [...values] });
  return axes;
}

/** Number of points of the axes' product. */
export function pointCount(axes: readonly MatrixAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/** Every point of the product, the first axis varying slowest, with its label. */
export function matrixPoints(axes: readonly MatrixAxis[]): MatrixPointSpec[] {
  let points: Array<Array<[MatrixAxis, MatrixValue]>> = [[]];
  for (const axis of axes)
    points = points.flatMap((p) => axis.values.map((v) => [...p, [axis, v] as [MatrixAxis, MatrixValue]]));
  return points.map((p) => ({
    label: p.map(([a, v]) => (a.bare ? String(v) : `${a.key}=${String(v)}`)).join(', '),
    values: Object.fromEntries(p.map(([a, v]) => [a.key, v])),
  }));
}

/**
 * The file's value at one point: matrix, sweep and figures (which belong to the whole experiment)
 * removed, each axis value written at its path.
 */
export function pointValue(value: Record<string, unknown>, point: MatrixPointSpec): Record<string, unknown> {
  const { matrix: _m, sweep: _s, figures: _f, ...rest } = structuredClone(value);
  for (const [key, v] of Object.entries(point.values)) {
    const segs = key.split('.');
    let o: Record<string, unknown> = rest;
    for (const seg of segs.slice(0, -1)) {
      if (typeof o[seg] !== 'object' || o[seg] === null) o[seg] = {};
      o = o[seg] as Record<string, unknown>;
    }
    o[segs[segs.length - 1]!] = v;
  }
  return rest;
}
