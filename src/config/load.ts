/**
 * Experiment files in, typed {@link Experiment}s out.
 *
 * `parseExperiment` runs every check it can and throws one {@link ConfigError} listing all problems,
 * each located at a line and column: UTF-8, YAML syntax, the JSON Schema (base and every profile),
 * backend ids, units, and whether the model can be built for the dataset's images.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Document } from 'yaml';
import { ExpbenchError } from '../errors.ts';
import { buildModelGraph } from '../models/index.ts';
import { ONNX_ARCH, OnnxImportError } from '../models/onnx-import/index.ts';
import type { LayerSpec } from '../models/ir.ts';
import { ConfigError, MAX_DIAGNOSTICS, SourceText } from './diagnostics.ts';
import type { Diagnostic, DiagnosticCode } from './diagnostics.ts';
import { locateFirst } from './locate.ts';
import { completeRecipe } from './recipe-load.ts';
import type { ValuePath } from './locate.ts';
import { figuresFromYaml } from './figures.ts';
import { MATRIX_LIMIT, matrixAxes, matrixPoints, pointCount, pointValue } from './matrix.ts';
import { metricBoundsFromYaml, metricsFromYaml, metricsProblems, trainingOnlyProblems } from './metrics-config.ts';
import { experimentSchema, LIMITS } from './schema.ts';
import type { FilledExperimentFile, JsonSchema } from './schema.ts';
import type { Case, DatasetConfig, Expectations, Experiment, ModelConfig, PhaseName } from './types.ts';
import { checkBytes, checkDuration } from './units.ts';
import { binaryFile, binaryKind, decodeUtf8, MAX_FILE_BYTES, parseYamlSource } from './yaml-source.ts';
import { datasetForOnnx, keysBesideOnnx } from './onnx-model.ts';
import { didYouMean, schemaDiagnostics, schemaErrors } from './validate.ts';

/** Environment variable that selects a profile when the caller does not. */
export const PROFILE_ENV = 'EXPBENCH_PROFILE';

/** Options of {@link parseExperiment} and {@link loadExperiment}. */
export interface LoadOptions {
  /**
   * Profile to apply. `undefined`: take it from `EXPBENCH_PROFILE` (unset or empty: none);
   * `null`: none, whatever the environment says.
   */
  profile?: string | null;
}

type Obj = Record<string, unknown>;

/**
 * Parses, validates and normalises an experiment. `file` names the source in messages and becomes the
 * absolute {@link Experiment.file}; relative dataset paths are resolved from its folder.
 * @throws ConfigError listing every problem found, each with line, column, the line itself and a hint.
 */
export function parseExperiment(source: string | Uint8Array, file: string, opts: LoadOptions = {}): Experiment {
  const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source;
  if (bytes.length > MAX_FILE_BYTES)
    throw new ConfigError(file, [tooLarge(file, bytes.length, bytes.subarray(0, 4096))]);
  let text: string;
  const binary = typeof source === 'string' ? undefined : binaryKind(source);
  if (binary !== undefined && typeof source !== 'string')
    throw new ConfigError(file, [binaryFile(source, binary, file)]);
  if (typeof source === 'string') {
    text = source;
  } else {
    const decoded = decodeUtf8(source, file);
    if ('diagnostic' in decoded) throw new ConfigError(file, [decoded.diagnostic]);
    text = decoded.text;
  }
  const hash = createHash('sha256').update(bytes).digest('hex');

  const parsed = parseYamlSource(text, file);
  if (parsed.diagnostics.length > 0 || !parsed.doc || !parsed.value)
    throw new ConfigError(file, sortAndDedupe(parsed.diagnostics));
  const { src, doc, value } = parsed;
  const ctx: Ctx = { src, doc, file: resolve(file), hash };
  const diagnostics: Diagnostic[] = [];
  // A file with thousands of errors gets the first hundred located; the rest are counted.
  let omitted = 0;
  const capped = <T>(errors: T[]): T[] => {
    const room = Math.max(0, MAX_DIAGNOSTICS - diagnostics.length);
    omitted += Math.max(0, errors.length - room);
    return errors.slice(0, room);
  };

  // The base, with every profile's partial schema checked at the same time.
  const baseErrors = schemaErrors(value);
  diagnostics.push(
    ...schemaDiagnostics(capped(baseErrors), src, doc, { context: '', prefixes: [{ prefix: [], base: 0 }] }),
  );
  const errorKey = (pointer: string, keyword: string, params: unknown): string =>
    `${pointer}|${keyword}|${JSON.stringify(params)}`;
  const seen = new Set(baseErrors.map((e) => errorKey(e.instancePath, e.keyword, e.params)));
  const baseOk = !baseErrors.some((e) => !e.instancePath.startsWith('/profiles'));
  const { profiles: rawProfiles, ...base } = value;
  const profiles = isObj(rawProfiles) ? rawProfiles : {};

  const variants: Variant[] = [];
  if (baseOk) variants.push({ profile: null, value: base });
  for (const [name, override] of Object.entries(profiles)) {
    if (!isObj(override)) continue;
    const ownPrefix = `/profiles/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const ownOk = !baseErrors.some((e) => e.instancePath === ownPrefix || e.instancePath.startsWith(`${ownPrefix}/`));
    const merged = mergeProfile(base, override) as Obj;
    // Problems that only appear once the profile is laid over the base (a key the new dataset kind
    // requires, say); ones already reported for the base or the profile itself are not repeated.
    const errors = schemaErrors(merged).filter(
      (e) =>
        !seen.has(errorKey(e.instancePath, e.keyword, e.params)) &&
        !seen.has(errorKey(ownPrefix + e.instancePath, e.keyword, e.params)),
    );
    diagnostics.push(
      ...schemaDiagnostics(capped(errors), src, doc, {
        context: ` (with profile "${name}")`,
        prefixes: [
          { prefix: ['profiles', name], base: 2 },
          { prefix: [], base: 0 },
        ],
      }),
    );
    if (baseOk && ownOk && errors.length === 0) variants.push({ profile: name, value: merged, override });
  }

  // Checks the schema cannot express, on every variant that passed it.
  const built = new Map<string | null, Experiment>();
  for (const v of variants) {
    const { exp, problems } = normalise(v, ctx);
    diagnostics.push(...problems);
    if (exp) built.set(v.profile, exp);
  }

  const selected = selectProfile(opts, ctx, Object.keys(profiles), diagnostics);
  if (diagnostics.length > 0) throw new ConfigError(file, sortAndDedupe(diagnostics), omitted);
  const exp = built.get(selected);
  // Unreachable when there are no diagnostics: every variant then validated and normalised.
  if (!exp) throw new ExpbenchError('CONFIG', `${file}: internal error: profile ${String(selected)} was not built`);
  return exp;
}

/**
 * Reads and parses an experiment file (see {@link parseExperiment}). A file that cannot be read, or is
 * larger than 64 KiB, is a {@link ConfigError} too.
 */
export function loadExperiment(file: string, opts: LoadOptions = {}): Experiment {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new ConfigError(file, [unreadable(file, e)]);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory())
      throw new ConfigError(file, [unreadable(file, Object.assign(new Error('is a directory'), { code: 'EISDIR' }))]);
    if (st.size > MAX_FILE_BYTES) {
      const head = Buffer.alloc(4096);
      const n = readSync(fd, head, 0, head.length, 0);
      throw new ConfigError(file, [tooLarge(file, st.size, head.subarray(0, n))]);
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return parseExperiment(new Uint8Array(buf.buffer, buf.byteOffset, off), file, opts);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(file, [unreadable(file, e)]);
  } finally {
    closeSync(fd);
  }
}

/** The outcome of validating one file. */
export interface ValidateResult {
  file: string;
  ok: boolean;
  error?: ConfigError;
}

/**
 * Validates files for `expbench validate`: each file with every profile checked, the selected one
 * (option, else `EXPBENCH_PROFILE`) applied. Never throws for a bad file; an unexpected failure while
 * checking one is reported as that file's error.
 */
export async function validateFiles(files: string[], opts: LoadOptions = {}): Promise<ValidateResult[]> {
  const out: ValidateResult[] = [];
  for (const file of files) {
    try {
      loadExperiment(file, opts);
      out.push({ file, ok: true });
    } catch (e) {
      const error =
        e instanceof ConfigError
          ? e
          : new ConfigError(file, [
              {
                code: 'CONFIG',
                reason: 'internal',
                message: `internal error while checking the file: ${(e as Error).message ?? String(e)}`,
                file,
                line: 0,
                col: 0,
                length: 1,
                sourceLine: '',
                hint: 'this is a bug in expbench; please report it with the file',
              },
            ]);
      out.push({ file, ok: false, error });
    }
    // Yield between files so a long list does not starve the event loop (progress output, signals).
    await new Promise<void>((r) => setImmediate(r));
  }
  return out;
}

/**
 * One case per backend, keyed `<name> › <backend>` (the key `-t` filters and baselines use); with a
 * matrix, one per point × backend, keyed `<name> › <point> › <backend>` (`<point>` is
 * `key=value, key=value`, or the bare architecture of a sweep), each with the point's experiment.
 */
export function expandCases(exp: Experiment): Case[] {
  if (!exp.matrix)
    return exp.backends.map((backend) => ({ experiment: exp, backend, key: `${exp.name} › ${backend}` }));
  return exp.matrix.points.flatMap(({ label, values, experiment }) =>
    exp.backends.map((backend) => {
      const c: Case = { experiment, backend, point: label, key: `${exp.name} › ${label} › ${backend}` };
      if (typeof values['model.arch'] === 'string') c.arch = values['model.arch'];
      return c;
    }),
  );
}

/**
 * Lays a profile over the base: mappings merge key by key, anything else (lists included) replaces.
 * A mapping whose `kind` changes (a dataset of another kind) replaces the base's whole, since the
 * base's other keys belong to the old kind.
 */
export function mergeProfile(base: unknown, override: unknown): unknown {
  if (isObj(base) && isObj(override)) {
    if ('kind' in override && 'kind' in base && override.kind !== base.kind) return structuredClone(override);
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(override)) out[k] = mergeProfile(base[k], v);
    return out;
  }
  return structuredClone(override);
}

// ---------------------------------------------------------------------------------------------------

interface Ctx {
  src: SourceText;
  doc: Document.Parsed;
  file: string;
  hash: string;
}

interface Variant {
  profile: string | null;
  value: Obj;
  /** The profile's own mapping (for locating problems in it). */
  override?: Obj;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The selected profile's name, or null; an unknown name adds a diagnostic. */
function selectProfile(opts: LoadOptions, ctx: Ctx, available: string[], diagnostics: Diagnostic[]): string | null {
  const fromEnv = opts.profile === undefined;
  const name = fromEnv ? process.env[PROFILE_ENV] || null : opts.profile || null;
  if (name === null || available.includes(name)) return name;
  const via = fromEnv ? `${PROFILE_ENV}=${name}` : 'the profile option';
  const guess = didYouMean(name, available);
  // At the profiles key, or at the first key of a file that has none.
  const loc = locateFirst(ctx.doc, [{ path: ['profiles'], base: 0 }], 'key');
  const start = loc.found ? loc.start : (ctx.doc.contents?.range[0] ?? 0);
  diagnostics.push(
    ctx.src.at(start, loc.found ? loc.end : start + 1, {
      code: 'CONFIG',
      reason: 'profile',
      message: `profile "${name}" (selected by ${via}) is not defined in this file`,
      hint:
        available.length === 0
          ? `this file defines no profiles; add one under \`profiles:\`, or ${fromEnv ? `unset ${PROFILE_ENV}` : 'run without --profile'}`
          : `${guess ? `did you mean "${guess}"? ` : ''}available profiles: ${available.join(', ')}`,
      path: '/profiles',
    }),
  );
  return null;
}

/** Where a problem of a variant is shown: in the profile when it wrote that path, else in the base. */
function place(
  ctx: Ctx,
  v: Variant,
  paths: ValuePath[],
  target: 'value' | 'key',
): { start: number; end: number; context: string } {
  const candidates: Array<{ path: ValuePath; base: number }> = [];
  if (v.profile !== null) for (const p of paths) candidates.push({ path: ['profiles', v.profile, ...p], base: 2 });
  for (const p of paths) candidates.push({ path: p, base: 0 });
  const l = locateFirst(ctx.doc, candidates, target);
  const inProfile = v.profile !== null && l.candidate < paths.length;
  return { start: l.start, end: l.end, context: inProfile ? ` (with profile "${v.profile}")` : '' };
}

function problem(
  ctx: Ctx,
  v: Variant,
  paths: ValuePath[],
  target: 'value' | 'key',
  d: { code: DiagnosticCode; reason: string; message: string; hint: string },
): Diagnostic {
  const p = place(ctx, v, paths, target);
  const path = paths[0] ?? [];
  return ctx.src.at(p.start, p.end, {
    ...d,
    message: d.message + p.context,
    path: path.map((s) => `/${String(s)}`).join(''),
  });
}

/** Fills defaults from the schema (one definition of every default), following `$ref` and kind branches. */
function withDefaults(value: unknown, schema: JsonSchema): unknown {
  let s = schema;
  const ref = s.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/definitions/')) {
    s = (experimentSchema.definitions as Record<string, JsonSchema>)[ref.slice('#/definitions/'.length)] ?? s;
  }
  if (!isObj(value)) return value;
  const out: Obj = { ...value };
  const apply = (props: Record<string, JsonSchema> | undefined): void => {
    for (const [k, ps] of Object.entries(props ?? {})) {
      if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
      if (out[k] !== undefined && ps.type !== 'array') out[k] = withDefaults(out[k], ps);
    }
  };
  apply(s.properties as Record<string, JsonSchema> | undefined);
  for (const b of (s.allOf as JsonSchema[] | undefined) ?? []) {
    const kind = ((b.if as JsonSchema | undefined)?.properties as Record<string, JsonSchema> | undefined)?.kind?.const;
    if (kind !== undefined && kind === out.kind)
      apply((b.then as JsonSchema).properties as Record<string, JsonSchema> | undefined);
  }
  return out;
}

/** A YAML layer (`relu`, `conv: 64`, `conv: {filters: 64, kernel: 5}`) as a {@link LayerSpec}. */
export function layerFromYaml(item: unknown): LayerSpec {
  if (typeof item === 'string') return { kind: item } as LayerSpec;
  const [kind, arg] = Object.entries(item as Obj)[0] as [LayerSpec['kind'], unknown];
  const opts: Obj = isObj(arg) ? arg : {};
  const strip = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
  switch (kind) {
    case 'conv':
      return strip({
        kind,
        filters: typeof arg === 'number' ? arg : opts.filters,
        kernel: opts.kernel,
        stride: opts.stride,
        padding: opts.padding,
        bias: opts.bias,
      }) as LayerSpec;
    case 'maxpool':
      return strip({ kind, size: typeof arg === 'number' ? arg : opts.size, stride: opts.stride }) as LayerSpec;
    case 'batchnorm':
      return strip({ kind, epsilon: opts.epsilon, momentum: opts.momentum }) as LayerSpec;
    case 'dense':
      return strip({ kind, units: typeof arg === 'number' ? arg : opts.units, bias: opts.bias }) as LayerSpec;
    case 'dropout':
      return { kind, rate: typeof arg === 'number' ? arg : (opts.rate as number) };
    default:
      return { kind } as LayerSpec;
  }
}

type FileValue = FilledExperimentFile;

/**
 * Turns a schema-valid variant into an {@link Experiment}, checking what the schema cannot: units
 * beyond their limits, `layers` without `arch: custom`, a batch larger than the training set, and
 * whether the network can be built on the dataset's images.
 */
function normalise(v: Variant, ctx: Ctx): { exp?: Experiment; problems: Diagnostic[] } {
  const problems: Diagnostic[] = [];
  // The variant passed the schema, so with its defaults filled it has the schema's shape.
  const x = withDefaults(v.value, experimentSchema) as FileValue;
  const units = unitReader(ctx, v, problems);
  const {
    version: _version,
    profiles: _profiles,
    profile: profileOps,
    sweep,
    reference,
    metrics: rawMetrics,
    matrix,
    figures: rawFigures,
    ...rest
  } = x;
  let dataset = normaliseDataset(x.dataset, dirname(ctx.file));
  const model = normaliseModel(x.model, ctx, v, problems);
  if (model.onnx !== undefined) dataset = normaliseOnnxModel(model, dataset, ctx, v, problems);
  const training = { ...x.training, optimizer: { ...x.training.optimizer } };
  // No training: the experiment only infers, on weights seeded by inference.seed.
  const trains = v.value.training !== undefined;
  if (trains) checkBatch(training.batchSize, dataset.train, ctx, v, problems);
  checkCompare(x.compare, x.backends, ctx, v, problems);
  const exp: Experiment = {
    ...rest,
    file: ctx.file,
    hash: ctx.hash,
    profile: v.profile,
    dataset,
    model,
    training,
    inference: { batchSize: x.inference.batchSize ?? training.batchSize, seed: x.inference.seed },
    trains,
    backends: [...x.backends],
    parity: { ...x.parity },
    expect: normaliseExpect(x.expect, units),
    metrics: metricsFromYaml(rawMetrics),
    timeout: units.seconds(x.timeout, ['timeout']),
  };
  const classes = inputGeometry(dataset)?.classes;
  const bounds = metricBoundsFromYaml(x.expect as Record<string, unknown>, exp.metrics, classes);
  const untrained = trains ? [] : trainingOnlyProblems(x.expect as Record<string, unknown>);
  for (const m of [...metricsProblems(exp.metrics, classes), ...bounds.problems, ...untrained])
    problems.push(problem(ctx, v, m.paths, m.target, { code: 'SCHEMA', ...m }));
  if (bounds.bounds.length > 0) exp.expect.metrics = bounds.bounds;
  if (reference !== undefined) exp.reference = structuredClone(reference);
  if (sweep?.arch !== undefined) exp.sweep = { arch: [...sweep.arch] };
  if (profileOps) exp.profileOps = true;
  completeRecipe(exp, v.value, inputGeometry(dataset)?.input.width, (path, d) =>
    problems.push(problem(ctx, v, [path], 'value', { code: 'SCHEMA', ...d })),
  );

  // The matrix (and sweep): every point normalised as a file of its own, its problems labelled with it.
  const axes = matrixAxes(sweep, matrix);
  const figures = figuresFromYaml(rawFigures, axes, exp.metrics);
  for (const m of figures.problems) problems.push(problem(ctx, v, m.paths, m.target, { code: 'SCHEMA', ...m }));
  if (figures.figures.length > 0) exp.figures = figures.figures;
  if (axes.length > 0 && problems.length === 0) {
    const cases = pointCount(axes) * exp.backends.length;
    if (cases > MATRIX_LIMIT) {
      problems.push(
        problem(ctx, v, [['matrix'], ['sweep']], 'key', {
          code: 'SCHEMA',
          reason: 'matrix-size',
          message: `the matrix expands to ${cases.toLocaleString('en-US')} cases (${axes.map((a) => a.values.length).join(' × ')} points × ${exp.backends.length} backend${exp.backends.length === 1 ? '' : 's'}), more than the limit of ${MATRIX_LIMIT}`,
          hint: 'list fewer values or fewer keys, or split the experiment into several files',
        }),
      );
    } else {
      const points: NonNullable<Experiment['matrix']>['points'] = [];
      for (const point of matrixPoints(axes)) {
        const value = pointValue(v.value, point);
        const r = normalise({ profile: v.profile, value, override: value }, ctx);
        for (const d of r.problems) problems.push({ ...d, message: `${d.message} (matrix point ${point.label})` });
        if (r.exp)
          points.push({ ...point, experiment: { ...r.exp, point, ...(exp.figures ? { figures: exp.figures } : {}) } });
      }
      exp.matrix = { axes, points };
    }
  }

  // Can the network be built on these images? Only worth asking once per distinct model and data.
  const touchesModel =
    v.profile === null ||
    (v.override !== undefined && ('model' in v.override || 'dataset' in v.override || 'sweep' in v.override));
  if (problems.length === 0 && touchesModel) checkBuildable(exp, ctx, v, problems);
  return problems.length === 0 ? { exp, problems } : { problems };
}

/** What a zero limit would do: every case killed at once, or every run over its budget. */
function zeroMeans(path: string[]): string {
  return path[0] === 'timeout' ? 'every case would be killed as it starts' : 'every run would exceed this budget';
}

function zeroHint(path: string[]): string {
  return path[0] === 'timeout'
    ? 'give a positive time, e.g. 30m (the default when the key is left out)'
    : 'give a positive budget, or leave the key out for no budget';
}

/** Converts durations to seconds and sizes to bytes, adding a located problem for each bad one. */
function unitReader(ctx: Ctx, v: Variant, problems: Diagnostic[]) {
  const report = (path: string[], message: string, hint: string): void => {
    problems.push(problem(ctx, v, [path], 'value', { code: 'SCHEMA', reason: 'unit', message, hint }));
  };
  return {
    seconds(raw: unknown, path: string[]): number {
      const r = checkDuration(raw);
      if (!r.ok) report(path, `${path.join('.')}: ${r.message}`, r.hint);
      else if (r.value === 0) report(path, `${path.join('.')} is zero, so ${zeroMeans(path)}`, zeroHint(path));
      else if (r.value > LIMITS.durationSeconds)
        report(
          path,
          `${path.join('.')} ${JSON.stringify(raw)} is ${Math.round(r.value).toLocaleString('en-US')} seconds, more than the limit of 30 days`,
          'a budget or timeout that large is a typo; write e.g. 90s, 20m or 2h',
        );
      return r.ok ? r.value : Number.NaN;
    },
    bytes(raw: unknown, path: string[]): number {
      const r = checkBytes(raw);
      if (!r.ok) report(path, `${path.join('.')}: ${r.message}`, r.hint);
      else if (r.value === 0) report(path, `${path.join('.')} is zero, so ${zeroMeans(path)}`, zeroHint(path));
      else if (r.value > LIMITS.bytes)
        report(path, `${path.join('.')} is ${r.value} bytes, more than the limit of 1 PiB`, 'write e.g. 4GiB or 512MB');
      return r.ok ? r.value : Number.NaN;
    },
  };
}

/** The dataset with a relative `path` resolved from the experiment file's folder. */
function normaliseDataset(ds: FileValue['dataset'], baseDir: string): DatasetConfig {
  if (ds.kind === 'synthetic') return { ...ds };
  const out = { ...ds };
  if (ds.path !== undefined) out.path = isAbsolute(ds.path) ? ds.path : resolve(baseDir, ds.path);
  if (out.kind === 'image-folder' && out.classes) out.classes = [...out.classes];
  return out;
}

/** The model with custom layers in the IR's form; `layers` without `arch: custom` is a problem. */
function normaliseModel(m: FileValue['model'], ctx: Ctx, v: Variant, problems: Diagnostic[]): ModelConfig {
  const { layers, arch, ...rest } = m;
  // The schema requires arch unless onnx names a model file.
  const model: ModelConfig = { ...rest, arch: arch ?? ONNX_ARCH, classifier: [...m.classifier] };
  if (layers === undefined) return model;
  if (model.arch !== 'custom') {
    problems.push(
      problem(ctx, v, [['model', 'layers']], 'key', {
        code: 'SCHEMA',
        reason: 'layers',
        message: `model.layers is only used with arch: custom, but arch is ${model.arch}`,
        hint: `set \`arch: custom\` to use these layers, or remove \`layers\` to use ${model.arch}`,
      }),
    );
  }
  model.layers = layers.map(layerFromYaml);
  return model;
}

/**
 * `model.onnx`: the path resolved from the experiment's folder, `arch` set to `onnx`, a located problem
 * for every architecture key written beside it, and a synthetic dataset given the file's geometry
 * where the experiment sets none. Returns the dataset.
 */
function normaliseOnnxModel(
  model: ModelConfig,
  dataset: DatasetConfig,
  ctx: Ctx,
  v: Variant,
  problems: Diagnostic[],
): DatasetConfig {
  const file = resolve(dirname(ctx.file), model.onnx!);
  model.onnx = file;
  model.arch = ONNX_ARCH;
  const written = (key: string): Record<string, unknown> => {
    const o = (v.value as Record<string, unknown>)[key];
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
  };
  for (const key of keysBesideOnnx(written('model'))) {
    problems.push(
      problem(ctx, v, [['model', key]], 'key', {
        code: 'SCHEMA',
        reason: 'onnx',
        message: `model.${key} does not apply to an ONNX model: the network and its weights come from model.onnx`,
        hint: `remove \`${key}\`, or remove \`onnx\` to use an architecture`,
      }),
    );
  }
  try {
    return datasetForOnnx(dataset, written('dataset'), file);
  } catch (err) {
    if (!(err instanceof OnnxImportError)) throw err;
    problems.push(onnxProblem(ctx, v, err));
    return dataset;
  }
}

/** An ONNX model that cannot be imported, shown at the experiment's `model.onnx`. */
function onnxProblem(ctx: Ctx, v: Variant, err: OnnxImportError): Diagnostic {
  return problem(ctx, v, [['model', 'onnx']], 'value', {
    code: 'MODEL_IMPORT',
    reason: err.reason,
    message: `model.onnx ${err.file}: ${err.detail}`,
    hint: err.hint ?? 'check the ONNX file',
  });
}

/** Only full batches run, so a batch larger than the training set would train nothing. */
function checkBatch(batchSize: number, train: number, ctx: Ctx, v: Variant, problems: Diagnostic[]): void {
  if (batchSize <= train) return;
  problems.push(
    problem(
      ctx,
      v,
      [
        ['training', 'batchSize'],
        ['dataset', 'train'],
      ],
      'value',
      {
        code: 'SCHEMA',
        reason: 'batch',
        message: `training.batchSize ${batchSize} is larger than the ${train} training images, so no full batch would run`,
        hint: `use at most ${train} for training.batchSize, or more training images`,
      },
    ),
  );
}

/** Each side of a declared comparison must be one of the experiment's backends, and the two differ. */
function checkCompare(
  compare: readonly (readonly string[])[] | undefined,
  backends: readonly string[],
  ctx: Ctx,
  v: Variant,
  problems: Diagnostic[],
): void {
  compare?.forEach((pair, i) => {
    pair.forEach((id, j) => {
      if (backends.includes(id)) return;
      problems.push(
        problem(ctx, v, [['compare', i, j]], 'value', {
          code: 'SCHEMA',
          reason: 'compare',
          message: `compare[${i}] names ${id}, which is not among the experiment's backends (${backends.join(', ')})`,
          hint: `add ${id} to backends, or compare two of ${backends.join(', ')}`,
        }),
      );
    });
    if (pair[0] === pair[1]) {
      problems.push(
        problem(ctx, v, [['compare', i]], 'value', {
          code: 'SCHEMA',
          reason: 'compare',
          message: `compare[${i}] divides ${pair[0]} by itself`,
          hint: 'name two different backends',
        }),
      );
    }
  });
}

/** Budgets with their units converted: time in seconds, memory in bytes. */
function normaliseExpect(e: FileValue['expect'], units: ReturnType<typeof unitReader>): Expectations {
  // Keys other than the budgets are metric bounds, read by metricBoundsFromYaml.
  const { time, memory, timeToAccuracy, accuracy } = e;
  const expect: Expectations = { regression: { ...e.regression } };
  if (accuracy !== undefined) expect.accuracy = accuracy;
  if (timeToAccuracy) {
    const { within, target } = timeToAccuracy;
    expect.timeToAccuracy = { target };
    if (within !== undefined)
      expect.timeToAccuracy.within = units.seconds(within, ['expect', 'timeToAccuracy', 'within']);
  }
  if (time) {
    expect.time = {};
    for (const [phase, raw] of Object.entries(time) as [PhaseName, number | string][])
      expect.time[phase] = units.seconds(raw, ['expect', 'time', phase]);
  }
  if (memory) {
    expect.memory = {};
    for (const [kind, raw] of Object.entries(memory) as [keyof typeof memory, number | string][])
      expect.memory[kind] = units.bytes(raw, ['expect', 'memory', kind]);
  }
  return expect;
}

/** Builds the network for the dataset's images (every swept architecture); a shape error is a problem. */
function checkBuildable(exp: Experiment, ctx: Ctx, v: Variant, problems: Diagnostic[]): void {
  const geometry = inputGeometry(exp.dataset);
  if (!geometry) return;
  try {
    for (const arch of exp.sweep?.arch ?? [exp.model.arch]) {
      const graph = buildModelGraph({ ...exp.model, arch }, geometry.input, geometry.classes);
      const tooBig = trainingMemory(graph.paramCount, exp.expect.memory?.train);
      if (tooBig) {
        problems.push(
          problem(ctx, v, [['model'], ['dataset']], 'key', { code: 'MODEL_SHAPE', reason: 'model-size', ...tooBig }),
        );
        return;
      }
    }
  } catch (err) {
    if (err instanceof OnnxImportError) {
      problems.push(onnxProblem(ctx, v, err));
      return;
    }
    if (!(err instanceof ExpbenchError) || err.code !== 'MODEL_SHAPE') throw err;
    const hint = err.hint ?? 'choose a shallower architecture, fewer pooling layers or larger images';
    const message = err.message.replace(/\.?\s*Hint: [\s\S]*$/, '');
    problems.push(
      problem(ctx, v, [['model'], ['dataset']], 'key', {
        code: 'MODEL_SHAPE',
        reason: 'model',
        message: `the model cannot be built for ${geometry.input.channels}×${geometry.input.height}×${geometry.input.width} images: ${message}`,
        hint,
      }),
    );
  }
}

/** Sizes in the messages about memory: GiB below a TiB, TiB above (3 significant figures). */
const gibOrTib = (bytes: number): string =>
  bytes >= 2 ** 40 ? `${(bytes / 2 ** 40).toPrecision(3)} TiB` : `${(bytes / 2 ** 30).toPrecision(3)} GiB`;

/** Largest training memory an experiment may need without a budget saying so: 1 TiB, more than any machine here. */
const MAX_TRAINING_BYTES = 2 ** 40;

/**
 * A model too large to train, refused before anything runs: float32 weights, their gradients and the
 * momentum buffers are three copies of the parameters (activations and the runtime come on top), so
 * this is a lower bound. Too large is over the case's training memory budget, or over 1 TiB without one.
 */
function trainingMemory(params: number, budget: number | undefined): { message: string; hint: string } | undefined {
  const bytes = params * 4 * 3;
  const limit = budget ?? MAX_TRAINING_BYTES;
  if (bytes <= limit) return undefined;
  return {
    message: `the model has ${params.toExponential(2)} parameters; training needs at least ${gibOrTib(bytes)} (weights, gradients and momentum in float32), more than ${budget === undefined ? 'the 1 TiB any machine running it could have' : `expect.memory.train (${gibOrTib(budget)})`}`,
    hint: 'use a smaller width, fewer or narrower dense layers (classifier), or larger pooling before them',
  };
}

/** Image geometry and class count a dataset config implies, when known before reading any data. */
export function inputGeometry(
  d: DatasetConfig,
): { input: { channels: number; height: number; width: number }; classes: number } | undefined {
  switch (d.kind) {
    case 'synthetic':
      return { input: { channels: d.channels, height: d.imageSize, width: d.imageSize }, classes: d.classes };
    case 'cifar10':
      return { input: { channels: 3, height: 32, width: 32 }, classes: 10 };
    case 'image-folder':
      // Decoded PNG/JPEG images are RGB; the class count does not change which shapes are possible.
      return d.imageSize === undefined
        ? undefined
        : { input: { channels: 3, height: d.imageSize, width: d.imageSize }, classes: d.classes?.length ?? 2 };
  }
}

function sortAndDedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    const k = `${d.line}:${d.col}:${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  // Syntax problems first (nothing else is trustworthy after one), then in file order.
  return out.sort(
    (a, b) => Number(b.code === 'YAML_SYNTAX') - Number(a.code === 'YAML_SYNTAX') || a.line - b.line || a.col - b.col,
  );
}

function tooLarge(file: string, size: number, head: Uint8Array): Diagnostic {
  const firstLine = new TextDecoder('utf-8').decode(head).split(/\r?\n/)[0] ?? '';
  const src = new SourceText(file, firstLine);
  return src.at(0, 1, {
    code: 'SCHEMA',
    reason: 'too-large',
    message: `the file is ${fmtSize(size)}; experiment files are limited to ${fmtSize(MAX_FILE_BYTES)}`,
    hint: 'an experiment describes data, it does not contain it; point dataset.path at the data instead',
  });
}

function fmtSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function unreadable(file: string, e: unknown): Diagnostic {
  const code = (e as { code?: string }).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'ELOOP'
        ? 'a symbolic link that leads back to itself (a symlink loop)'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : ((e as Error).message ?? String(e));
  return {
    code: 'CONFIG',
    reason: 'read',
    message: `cannot read the experiment file: ${why}`,
    file,
    line: 0,
    col: 0,
    length: 1,
    sourceLine: '',
    hint:
      code === 'ENOENT'
        ? 'check the path; experiment files usually live in experiments/ and end in .experiment.yaml'
        : 'check the path and its permissions',
  };
}
