/**
 * The experiment file format, version 1: one definition that is both the JSON Schema (draft-07, the
 * draft editors support best) and, through TypeBox's `Static`, the TypeScript types of the file and of
 * the loaded experiment (`src/config/types.ts` derives every type from the objects here).
 *
 * `schema/experiment.schema.json` is this object written out (`npx tsx src/config/write-schema.ts`);
 * a test fails when the two differ, so the file editors autocomplete from and the schema the loader
 * validates with are the same. Profiles take a *partial* experiment (every key optional, at every
 * depth), derived from the full one by {@link partialSchema} so the two cannot drift.
 *
 * Conventions: `additionalProperties: false` on every mapping except the free-form `reference`;
 * every field has a `description` (the loader shows it as the hint of an error on that field) and,
 * where there is one, its `default` (the loader fills defaults from here, so they are defined once;
 * {@link dflt} records it in the type too, so a defaulted key is optional in the file and always
 * present in the loaded experiment). Enumerations and constants are written as `enum` / `const`
 * (not TypeBox's `anyOf` of literals), so the loader's messages for them stay one line.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { DATASET_KINDS } from '../data/config.ts';
import { ARCH_NAMES, Model } from '../models/config.ts';
import { constant, dflt, type Filled, int, LIMITS, num, obj, opt, type TUnit, type TVariants } from '../shape/index.ts';
import { BACKEND_IDS, type BackendId, TEST_BACKEND_IDS } from '../vocab/backends.ts';
import type { PhaseName } from '../vocab/phases.ts';
import { type FigureValue, figuresSchema } from './figures.ts';
import { buildMatrixSchema, type MatrixValue } from './matrix.ts';
import { Optimizer, recipeProperties, timeToAccuracySchema, trainingRecipeProperties } from './recipe-schema.ts';
import { type MetricBoundValue, metricBoundSchema, type MetricsValue, metricsSchema } from './metrics-schema.ts';
import { BYTES_PATTERN, DURATION_PATTERN } from './units.ts';

/** A JSON Schema node, loosely typed: the structure is checked by ajv's meta-schema in the tests. */
export type JsonSchema = { [key: string]: unknown };

/** `$id` of the schema (also its key inside ajv). */
export const SCHEMA_ID = 'urn:expbench:experiment:1';

/** Title of the backend-id schema; the loader recognises backend errors by it. */
export const BACKEND_ID_TITLE = 'Backend id';

/** Paper artefacts an experiment may mirror (free text is accepted too). */
export const ARTEFACTS = ['table2', 'table3', 'fig2', 'fig3', 'argmax'] as const;

const duration = (description: string) =>
  Type.Unsafe<number | string>({ $ref: '#/definitions/duration', description }) as TUnit<'seconds'>;
const bytes = (description: string) =>
  Type.Unsafe<number | string>({ $ref: '#/definitions/bytes', description }) as TUnit<'bytes'>;

/** A backend id, inlined where a list of them is checked (ajv hashes string items for uniqueness). */
const backendId = Type.Unsafe<BackendId>({
  enum: [...BACKEND_IDS, ...TEST_BACKEND_IDS],
  type: 'string',
  title: BACKEND_ID_TITLE,
  description: 'A backend as `framework/device`.',
});

const definitions: Record<string, JsonSchema> = {
  duration: {
    type: ['number', 'string'],
    title: 'Duration',
    description: "Seconds as a number, or a string with units: '500ms', '90s', '2m', '1h30m', '1d'.",
    minimum: 0,
    maximum: LIMITS.durationSeconds,
    pattern: DURATION_PATTERN,
    examples: ['500ms', '60s', '2m', '1h30m'],
  },
  bytes: {
    type: ['integer', 'string'],
    title: 'Size',
    description:
      "Bytes as a number, or a string with units: '512MiB', '2.5GB', '800kB' (kB/MB/GB = 1000ⁿ, KiB/MiB/GiB = 1024ⁿ).",
    minimum: 0,
    maximum: LIMITS.bytes,
    pattern: BYTES_PATTERN,
    examples: ['512MiB', '2.5GB', '4GiB'],
  },
  backendId,
  metricBound: metricBoundSchema,
  layer: {
    title: 'Layer',
    description:
      'One layer of a custom stack: `relu`, `flatten`, `batchnorm`, `maxpool`, or a one-key mapping such as `conv: 64`, `conv: {filters: 64, kernel: 3}`, `maxpool: 2`, `dense: 256`, `dropout: 0.5`.',
    type: ['string', 'object'],
    if: { type: 'string' },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
    then: { enum: ['relu', 'flatten', 'batchnorm', 'maxpool'] },
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
    properties: {
      conv: {
        description: 'Convolution: the number of filters, or `{filters, kernel, stride, padding, bias}`.',
        type: ['integer', 'object'],
        minimum: 1,
        maximum: LIMITS.units,
        additionalProperties: false,
        required: ['filters'],
        properties: {
          filters: int(1, LIMITS.units, 'Output channels.'),
          kernel: int(1, 64, 'Square kernel side.', { default: 3 }),
          stride: int(1, 64, 'Stride in both directions.', { default: 1 }),
          padding: {
            description: '`same` (output size = ceil(input / stride)), `valid` (no padding), or pixels on every side.',
            type: ['string', 'integer'],
            minimum: 0,
            maximum: 64,
            if: { type: 'string' },
            // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
            then: { enum: ['same', 'valid'] },
            default: 'same',
          },
          bias: { type: 'boolean', description: 'Add a bias per filter.', default: true },
        },
      },
      maxpool: {
        description: 'Max pooling: the window size, or `{size, stride}` (stride defaults to size).',
        type: ['null', 'integer', 'object'],
        minimum: 1,
        maximum: 64,
        additionalProperties: false,
        properties: {
          size: int(1, 64, 'Square window side.', { default: 2 }),
          stride: int(1, 64, 'Stride (defaults to the window size).'),
        },
      },
      batchnorm: {
        description: 'Batch normalisation over channels: nothing, or `{epsilon, momentum}`.',
        type: ['null', 'object'],
        additionalProperties: false,
        properties: {
          epsilon: {
            type: 'number',
            exclusiveMinimum: 0,
            maximum: 1,
            description: 'Added to the variance.',
            default: 1e-5,
          },
          momentum: num(0, 0.999999, 'Running statistics: running·m + batch·(1−m) (ONNX / Keras convention).', {
            default: 0.9,
          }),
        },
      },
      dense: {
        description: 'Fully connected layer: the number of units, or `{units, bias}`.',
        type: ['integer', 'object'],
        minimum: 1,
        maximum: LIMITS.units,
        additionalProperties: false,
        required: ['units'],
        properties: {
          units: int(1, LIMITS.units, 'Output features.'),
          bias: { type: 'boolean', description: 'Add a bias per unit.', default: true },
        },
      },
      dropout: {
        description: 'Dropout: the rate, or `{rate}`.',
        type: ['number', 'object'],
        minimum: 0,
        maximum: 0.99,
        additionalProperties: false,
        required: ['rate'],
        properties: { rate: num(0, 0.99, 'Fraction of activations dropped while training.') },
      },
      relu: {
        description: 'ReLU (also written as the plain string `relu`).',
        type: ['null', 'object'],
        maxProperties: 0,
      },
      flatten: {
        description: 'Flatten to features, channel-major (also written as the plain string `flatten`).',
        type: ['null', 'object'],
        maxProperties: 0,
      },
    },
  },
};

const datasetKinds = DATASET_KINDS;
const kindNames = Object.keys(datasetKinds) as Array<keyof typeof datasetKinds>;

/**
 * The dataset mapping: `kind` picks one of {@link datasetKinds}. Written as `if kind … then` branches
 * (not `oneOf`) so an error names the field of the chosen kind, not every branch's.
 */
const dataset = Type.Unsafe<Static<(typeof datasetKinds)[keyof typeof datasetKinds]>>({
  type: 'object',
  description: `The data: ${kindNames.join(', ')} (chosen by \`kind\`).`,
  required: ['kind', 'train', 'test'],
  properties: { kind: { enum: kindNames, description: `Which dataset: ${kindNames.join(', ')}.` } },
  allOf: kindNames.map((kind) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
    then: { additionalProperties: false, properties: datasetKinds[kind].properties },
  })),
}) as TVariants<typeof datasetKinds>;

export const Training = obj('How the network is trained.', {
  epochs: dflt(int(1, LIMITS.epochs, 'Passes over the training set.'), 10),
  batchSize: dflt(int(1, LIMITS.batchSize, 'Examples per training step; only full batches run.'), 64),
  optimizer: Optimizer,
  ...trainingRecipeProperties,
  seed: dflt(int(0, 2 ** 32 - 1, 'Seed of weight initialisation and example order.'), 0),
  lossEvery: dflt(
    int(
      1,
      1_000_000,
      'Read the loss back every this many steps (progress, NaN detection); reading back syncs the device.',
    ),
    50,
  ),
  keepWeights: dflt(
    Type.Boolean({
      description:
        "Write each case's trained weights, after training and off the clock, next to its result record (`<record>.weights.onnx`: the model as ONNX with the trained weights; `expbench model --onnx out.onnx --weights <it or its folder>`).",
    }),
    false,
  ),
});

/** The timed phases, each with its optional time budget. */
const PhaseTimes = obj('Time budgets per phase (median of the repeats).', {
  warmup: opt(duration('Budget for the warm-up phase.')),
  buildInit: opt(duration('Budget for build + init (graph construction, session and weight initialisation).')),
  train: opt(duration('Budget for training (all epochs).')),
  infer: opt(duration('Budget for inference over the test set.')),
} satisfies Record<PhaseName, TSchema>);

export const Parity = obj('Compare outputs with a reference backend before timing.', {
  enabled: dflt(Type.Boolean({ description: 'Run the parity check.' }), true),
  reference: dflt(
    Type.Unsafe<Static<typeof backendId>>({
      $ref: '#/definitions/backendId',
      description: 'Backend whose logits the others are compared with.',
    }),
    'onnxruntime/cpu',
  ),
  tolerance: dflt(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Largest accepted relative error, max|a−b| / max|b|.',
    }),
    1e-4,
  ),
});

export const Expect = obj('Budgets and gates that decide pass or fail.', {
  accuracy: opt(num(0, 1, 'Minimum test accuracy (0–1).')),
  timeToAccuracy: timeToAccuracySchema(duration),
  time: opt(PhaseTimes),
  memory: opt(
    obj(
      'Memory budgets: peak resident set of the case process per phase, and its device (GPU) memory. A case that exceeds one while running is stopped.',
      {
        train: opt(bytes('Budget for peak memory while training.')),
        infer: opt(bytes('Budget for peak memory while inferring.')),
        device: opt(
          bytes(
            'Budget for the device (GPU) memory the driver attributes to the case process (nvidia-smi), over the whole case.',
          ),
        ),
      },
    ),
  ),
  regression: dflt(
    obj('Gate against the stored baseline.', {
      threshold: dflt(num(0, 100, 'Relative slow-down that fails (0.10 = 10 % slower than the baseline median).'), 0.1),
      alpha: dflt(
        Type.Number({
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
          description:
            'One-sided significance level of the test that the slow-down is real (the default was validated by bench/gate-noise.ts).',
        }),
        0.05,
      ),
    }),
    {},
  ),
});

/** Everything a profile may override: all top-level keys but `name` and `profiles`. */
const body = {
  version: opt(constant(1, { description: 'Version of the experiment file format (1).' })),
  description: dflt(
    Type.String({
      maxLength: LIMITS.descriptionLength,
      description: 'What the experiment measures, in a sentence or two.',
    }),
    '',
  ),
  artefact: opt(
    Type.String({
      minLength: 1,
      maxLength: 80,
      description: `Which artefact of the study the experiment mirrors: ${ARTEFACTS.join(', ')}, or free text.`,
      examples: [...ARTEFACTS],
    }),
  ),
  dataset,
  model: Model,
  sweep: opt(
    obj(
      "Run the experiment once per listed value, each as its own group of cases (the study's depth figures: VGG11, 13, 16, 19).",
      {
        arch: opt(
          Type.Array(Type.Unsafe<string>({ enum: ARCH_NAMES.filter((a) => a !== 'custom') }), {
            description: 'Architectures to run in turn; each replaces `model.arch` for its cases.',
            minItems: 1,
            maxItems: 16,
            uniqueItems: true,
          }),
        ),
      },
    ),
  ),
  // Absent: the experiment only infers.
  // Absent: the experiment only infers (the loader notes it as `trains: false`); its keys keep their defaults.
  training: dflt(
    {
      ...Training,
      description:
        'How the network is trained. Without `training:` the experiment only infers (build+init, warm-up, infer, evaluate) on weights seeded by inference.seed.',
    },
    {},
  ),
  inference: dflt(
    obj('How inference is run.', {
      batchSize: opt(int(1, LIMITS.batchSize, 'Examples per inference batch (default: training.batchSize).')),
      seed: dflt(
        int(0, 2 ** 32 - 1, 'Seed of the weights of an experiment without training (training.seed otherwise).'),
        0,
      ),
    }),
    {},
  ),
  backends: Type.Array(backendId, {
    description: 'Backends the experiment runs on; each becomes its own group of test cases.',
    minItems: 1,
    maxItems: 64,
    uniqueItems: true,
  }),
  compare: opt(
    Type.Array(
      Type.Array(backendId, {
        minItems: 2,
        maxItems: 2,
        description: 'Two of the experiment’s backends, `[a, b]`: the reports divide a’s figure by b’s.',
      }),
      {
        description:
          'Which backends the reports put side by side, as ratio columns `a : b` (default: each framework’s backends on the same class of device).',
        minItems: 1,
        maxItems: 16,
        examples: [[['onnxruntime/cpu', 'tfjs/wasm']]],
      },
    ),
  ),
  repeats: dflt(int(1, LIMITS.repeats, 'Timed runs of each case (the study: 10); medians and spread are reported.'), 1),
  warmup: dflt(int(0, LIMITS.warmup, 'Untimed warm-up runs of each phase, reported separately.'), 0),
  parity: dflt(Parity, {}),
  // Its other keys are metric names, each a bound; the loader checks the names against the registry.
  expect: dflt(
    { ...Expect, additionalProperties: Type.Unsafe<MetricBoundValue>({ $ref: '#/definitions/metricBound' }) },
    {},
  ),
  ...recipeProperties,
  metrics: opt(Type.Unsafe<MetricsValue>(metricsSchema)),
  timeout: dflt(duration('Wall-clock limit of one case process; it is killed after this.'), '30m'),
  profile: dflt(
    Type.Boolean({
      description:
        'Also record a per-operator profile of the training step (time by operator type and node; forward, backward, optimizer), taken in a separate session after the timed phases (also: `expbench run --profile-ops`).',
    }),
    false,
  ),
  reference: opt(
    Type.Unsafe<Record<string, unknown>>({
      type: 'object',
      description: "The study's published values, carried through to the reports untouched (free-form).",
    }),
  ),
};

/**
 * The format's keys with `matrix:`, which lists values of the scalar keys above and is built from them,
 * and `figures:`, which names matrix keys and metrics.
 */
const fullBody = {
  ...body,
  matrix: opt(Type.Unsafe<Record<string, MatrixValue[]>>(buildMatrixSchema(body as Record<string, JsonSchema>))),
  figures: opt(Type.Unsafe<FigureValue[]>(figuresSchema)),
};

/**
 * The partial variant of a schema for profiles: every `required` is dropped, at every depth reached
 * through `properties` and `then`, but not inside `if` (which must still recognise a dataset kind),
 * nor inside array items (an array in a profile replaces the base's whole, so items stay complete).
 */
export function partialSchema(s: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'required' || k === 'default') continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, JsonSchema>).map(([p, ps]) => [p, partialSchema(ps)]),
      );
    } else if (k === 'then' && v && typeof v === 'object') {
      out[k] = partialSchema(v as JsonSchema);
    } else if (k === 'allOf' && Array.isArray(v)) {
      out[k] = v.map((x: JsonSchema) => partialSchema(x));
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Builds the whole schema object; `schema/experiment.schema.json` is its JSON. */
export function buildExperimentSchema() {
  return Type.Object(
    {
      name: Type.String({
        pattern: `^[A-Za-z0-9][A-Za-z0-9._-]{0,${LIMITS.nameLength - 1}}$`,
        description: 'Short identifier (letters, digits, `.`, `_`, `-`): names the test group, results and baselines.',
      }),
      ...fullBody,
      profiles: opt(
        Type.Unsafe<Record<string, unknown>>({
          type: 'object',
          description:
            'Named variants (e.g. `quick`, `full`) selected with --profile or EXPBENCH_PROFILE; each overrides any key but `name` and `profiles`. Mappings merge, lists replace.',
          propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$' },
          additionalProperties: { $ref: '#/definitions/profile' },
        }),
      ),
    },
    {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: SCHEMA_ID,
      title: 'expbench experiment',
      description:
        'A deep-learning experiment run as Vitest tests: a dataset, a model, how to train and infer, the backends to compare, and what to expect. Format version 1.',
      additionalProperties: false,
      definitions: {
        ...definitions,
        profile: {
          type: 'object',
          title: 'Profile',
          description: 'Overrides of the base experiment. Mappings merge, lists replace.',
          additionalProperties: false,
          properties: Object.fromEntries(Object.entries(fullBody).map(([k, v]) => [k, partialSchema(v)])),
        },
      },
    },
  );
}

export { ARCH_NAMES, LIMITS };

/** The schema, built once. */
export const experimentSchema = buildExperimentSchema();

/** The experiment file's keys with their defaults filled in and units still as written. */
export type FilledExperimentFile = Filled<typeof experimentSchema, number | string>;
/** The same once durations are seconds and sizes bytes: what the loaded experiment is made of. */
export type FilledExperiment = Filled<typeof experimentSchema>;
