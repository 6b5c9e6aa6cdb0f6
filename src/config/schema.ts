/**
 * The experiment file format, version 1, as a JSON Schema (draft-07, the draft editors support best).
 *
 * `schema/experiment.schema.json` is this object written out (`npx tsx src/config/write-schema.ts`);
 * a test fails when the two differ, so the file editors autocomplete from and the schema the loader
 * validates with are the same. It is built in code rather than written by hand for one reason:
 * profiles take a *partial* experiment (every key optional, at every depth), and deriving that
 * variant from the full one is the only way to keep the two from drifting.
 *
 * Conventions: `additionalProperties: false` on every mapping except the free-form `reference`;
 * every field has a `description` (the loader shows it as the hint of an error on that field) and,
 * where there is one, its `default` (the loader fills defaults from here, so they are defined once).
 */
import { BACKEND_IDS, TEST_BACKEND_IDS } from '../vocab/backends.ts';
import { BYTES_PATTERN, DURATION_PATTERN } from './units.ts';

/** A JSON Schema node, loosely typed: the structure is checked by ajv's meta-schema in the tests. */
export type JsonSchema = { [key: string]: unknown };

/** `$id` of the schema (also its key inside ajv). */
export const SCHEMA_ID = 'urn:expbench:experiment:1';

/** Title of the backend-id schema; the loader recognises backend errors by it. */
export const BACKEND_ID_TITLE = 'Backend id';

/** Architectures accepted by `model.arch`. */
export const ARCH_NAMES = ['vgg-small', 'vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19', 'custom'] as const;

/** Paper artefacts an experiment may mirror (free text is accepted too). */
export const ARTEFACTS = ['table2', 'table3', 'fig2', 'fig3', 'argmax'] as const;

/** Upper bounds: generous for real work, small enough that a typo such as `epochs: 1e12` is caught. */
export const LIMITS = {
  epochs: 10_000,
  examples: 10_000_000,
  batchSize: 65_536,
  repeats: 1_000,
  warmup: 1_000,
  imageSize: 4_096,
  channels: 64,
  classes: 100_000,
  units: 1_000_000,
  /** 30 days, in seconds. */
  durationSeconds: 30 * 86_400,
  /** 1 PiB. */
  bytes: 2 ** 50,
  nameLength: 80,
  descriptionLength: 10_000,
} as const;

const int = (minimum: number, maximum: number, description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: 'integer',
  minimum,
  maximum,
  description,
  ...extra,
});

const num = (minimum: number, maximum: number, description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: 'number',
  minimum,
  maximum,
  description,
  ...extra,
});

const obj = (description: string, properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  description,
  additionalProperties: false,
  properties,
  ...extra,
});

const duration = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  $ref: '#/definitions/duration',
  description,
  ...extra,
});
const bytes = (description: string): JsonSchema => ({ $ref: '#/definitions/bytes', description });

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
  backendId: {
    type: 'string',
    title: BACKEND_ID_TITLE,
    description: 'A backend as `framework/device`.',
    enum: [...BACKEND_IDS, ...TEST_BACKEND_IDS],
  },
  layer: {
    title: 'Layer',
    description:
      'One layer of a custom stack: `relu`, `flatten`, `batchnorm`, `maxpool`, or a one-key mapping such as `conv: 64`, `conv: {filters: 64, kernel: 3}`, `maxpool: 2`, `dense: 256`, `dropout: 0.5`.',
    type: ['string', 'object'],
    if: { type: 'string' },
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

const datasetKinds: Record<string, JsonSchema> = {
  synthetic: {
    kind: {
      const: 'synthetic',
      description: 'Generated images: one noisy pattern per class, reproducible from the seed.',
    },
    train: int(1, LIMITS.examples, 'Number of training images.'),
    test: int(1, LIMITS.examples, 'Number of test images.'),
    imageSize: int(1, LIMITS.imageSize, 'Square image side in pixels.', { default: 32 }),
    channels: int(1, LIMITS.channels, 'Channels per pixel.', { default: 3 }),
    classes: int(2, LIMITS.classes, 'Number of classes.', { default: 10 }),
    seed: int(0, 2 ** 32 - 1, 'Seed of the generator.', { default: 0 }),
    noise: num(0, 255, 'Noise standard deviation on the 0–255 scale, relative to the class pattern.', { default: 32 }),
  },
  cifar10: {
    kind: { const: 'cifar10', description: 'CIFAR-10 (binary version), 32×32×3, 10 classes.' },
    path: {
      type: 'string',
      minLength: 1,
      description:
        'Folder with data_batch_*.bin / test_batch.bin or cifar-10-binary.tar.gz, relative to the experiment file; found or downloaded when absent.',
    },
    train: int(1, 50_000, 'Training images used, from the start of the training set (the study: 49,984).'),
    test: int(1, 10_000, 'Test images used, from the start of the test set (the study: 9,984).'),
  },
  'image-folder': {
    kind: {
      const: 'image-folder',
      description: 'A folder of PNG/JPEG images, one sub-folder per class (train/ and test/ inside).',
    },
    path: {
      type: 'string',
      minLength: 1,
      description: 'The folder; relative paths are resolved from the experiment file.',
    },
    train: int(1, LIMITS.examples, 'Number of training images used.'),
    test: int(1, LIMITS.examples, 'Number of test images used.'),
    classes: {
      type: 'array',
      description: 'Class folder names in label order (default: every sub-folder, sorted).',
      items: { type: 'string', minLength: 1, maxLength: 255 },
      minItems: 2,
      maxItems: LIMITS.classes,
      uniqueItems: true,
    },
    imageSize: int(
      1,
      LIMITS.imageSize,
      'Square side all images are brought to (default: the size of the first image).',
    ),
    sizeMismatch: {
      enum: ['resize', 'reject'],
      description: 'Images of another size are resized, or rejected with an error.',
      default: 'reject',
    },
  },
};

const kindNames = Object.keys(datasetKinds);

const dataset: JsonSchema = {
  type: 'object',
  description: `The data: ${kindNames.join(', ')} (chosen by \`kind\`).`,
  required: ['kind', 'train', 'test'],
  properties: { kind: { enum: kindNames, description: `Which dataset: ${kindNames.join(', ')}.` } },
  allOf: kindNames.map((kind) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    then: { additionalProperties: false, properties: datasetKinds[kind] },
  })),
};

const model: JsonSchema = obj(
  'The network: a VGG family member, or a custom stack of layers.',
  {
    arch: { enum: [...ARCH_NAMES], description: `Architecture: ${ARCH_NAMES.join(', ')} (custom needs \`layers\`).` },
    width: num(0.01, 64, 'Channel multiplier for the convolution widths (1 = the published widths).', { default: 1 }),
    batchNorm: { type: 'boolean', description: 'Insert batch normalisation after every convolution.', default: false },
    classifier: {
      type: 'array',
      description: 'Hidden units of the classifier before the logits layer ([] for none).',
      items: int(1, LIMITS.units, 'Units of one hidden dense layer.'),
      maxItems: 16,
      default: [256],
    },
    dropout: num(0, 0.99, 'Dropout rate after each hidden classifier layer (0 = none).', { default: 0 }),
    layers: {
      type: 'array',
      description: 'The feature extractor of `arch: custom`, in order; flatten and the classifier are appended.',
      items: { $ref: '#/definitions/layer' },
      minItems: 1,
      maxItems: 1000,
    },
  },
  {
    required: ['arch'],
    if: { properties: { arch: { const: 'custom' } }, required: ['arch'] },
    then: { required: ['layers'] },
  },
);

const training: JsonSchema = obj(
  'How the network is trained.',
  {
    epochs: int(1, LIMITS.epochs, 'Passes over the training set.', { default: 10 }),
    batchSize: int(1, LIMITS.batchSize, 'Examples per training step; only full batches run.', { default: 64 }),
    optimizer: obj(
      'The optimiser.',
      {
        kind: { const: 'sgd', description: 'Stochastic gradient descent with momentum.', default: 'sgd' },
        lr: { type: 'number', exclusiveMinimum: 0, maximum: 10, description: 'Learning rate.', default: 0.01 },
        momentum: num(0, 0.999999, 'Momentum (0 = plain SGD).', { default: 0.9 }),
        weightDecay: num(0, 1, 'L2 weight decay added to the gradient.', { default: 0 }),
      },
      { default: {} },
    ),
    seed: int(0, 2 ** 32 - 1, 'Seed of weight initialisation and example order.', { default: 0 }),
    lossEvery: int(
      1,
      1_000_000,
      'Read the loss back every this many steps (progress, NaN detection); reading back syncs the device.',
      { default: 50 },
    ),
  },
  { default: {} },
);

const phaseTimes: Record<string, JsonSchema> = {
  warmup: duration('Budget for the warm-up phase.'),
  buildInit: duration('Budget for build + init (graph construction, session and weight initialisation).'),
  train: duration('Budget for training (all epochs).'),
  infer: duration('Budget for inference over the test set.'),
};

/** Everything a profile may override: all top-level keys but `name` and `profiles`. */
const body: Record<string, JsonSchema> = {
  version: { const: 1, description: 'Version of the experiment file format (1).' },
  description: {
    type: 'string',
    maxLength: LIMITS.descriptionLength,
    description: 'What the experiment measures, in a sentence or two.',
    default: '',
  },
  artefact: {
    type: 'string',
    minLength: 1,
    maxLength: 80,
    description: `Which artefact of the study the experiment mirrors: ${ARTEFACTS.join(', ')}, or free text.`,
    examples: [...ARTEFACTS],
  },
  dataset,
  model,
  sweep: obj(
    "Run the experiment once per listed value, each as its own group of cases (the study's depth figures: VGG11, 13, 16, 19).",
    {
      arch: {
        type: 'array',
        description: 'Architectures to run in turn; each replaces `model.arch` for its cases.',
        items: { enum: ARCH_NAMES.filter((a) => a !== 'custom') },
        minItems: 1,
        maxItems: 16,
        uniqueItems: true,
      },
    },
  ),
  training,
  inference: obj(
    'How inference is run.',
    { batchSize: int(1, LIMITS.batchSize, 'Examples per inference batch (default: training.batchSize).') },
    { default: {} },
  ),
  backends: {
    type: 'array',
    description: 'Backends the experiment runs on; each becomes its own group of test cases.',
    // Inlined rather than a $ref so ajv sees string items and checks uniqueness by hashing, not n².
    items: definitions.backendId,
    minItems: 1,
    maxItems: 64,
    uniqueItems: true,
  },
  repeats: int(1, LIMITS.repeats, 'Timed runs of each case (the study: 10); medians and spread are reported.', {
    default: 1,
  }),
  warmup: int(0, LIMITS.warmup, 'Untimed warm-up runs of each phase, reported separately.', { default: 0 }),
  parity: obj(
    'Compare outputs with a reference backend before timing.',
    {
      enabled: { type: 'boolean', description: 'Run the parity check.', default: true },
      reference: {
        $ref: '#/definitions/backendId',
        description: 'Backend whose logits the others are compared with.',
        default: 'onnxruntime/cpu',
      },
      tolerance: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'Largest accepted relative error, max|a−b| / max|b|.',
        default: 1e-4,
      },
    },
    { default: {} },
  ),
  expect: obj(
    'Budgets and gates that decide pass or fail.',
    {
      accuracy: num(0, 1, 'Minimum test accuracy (0–1).'),
      time: obj('Time budgets per phase (median of the repeats).', phaseTimes),
      memory: obj(
        'Memory budgets: peak resident set of the case process per phase, and its device (GPU) memory. A case that exceeds one while running is stopped.',
        {
          train: bytes('Budget for peak memory while training.'),
          infer: bytes('Budget for peak memory while inferring.'),
          device: bytes(
            'Budget for the device (GPU) memory the driver attributes to the case process (nvidia-smi), over the whole case.',
          ),
        },
      ),
      regression: obj(
        'Gate against the stored baseline.',
        {
          threshold: num(0, 100, 'Relative slow-down that fails (0.10 = 10 % slower than the baseline median).', {
            default: 0.1,
          }),
          alpha: {
            type: 'number',
            exclusiveMinimum: 0,
            exclusiveMaximum: 1,
            description:
              'One-sided significance level of the test that the slow-down is real (the default was validated by bench/gate-noise.ts).',
            default: 0.05,
          },
        },
        { default: {} },
      ),
    },
    { default: {} },
  ),
  timeout: duration('Wall-clock limit of one case process; it is killed after this.', { default: '30m' }),
  reference: {
    type: 'object',
    description: "The study's published values, carried through to the reports untouched (free-form).",
  },
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
export function buildExperimentSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'expbench experiment',
    description:
      'A deep-learning experiment run as Vitest tests: a dataset, a model, how to train and infer, the backends to compare, and what to expect. Format version 1.',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'dataset', 'model', 'backends'],
    properties: {
      name: {
        type: 'string',
        pattern: `^[A-Za-z0-9][A-Za-z0-9._-]{0,${LIMITS.nameLength - 1}}$`,
        description: 'Short identifier (letters, digits, `.`, `_`, `-`): names the test group, results and baselines.',
      },
      ...body,
      profiles: {
        type: 'object',
        description:
          'Named variants (e.g. `quick`, `full`) selected with --profile or EXPBENCH_PROFILE; each overrides any key but `name` and `profiles`. Mappings merge, lists replace.',
        propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$' },
        additionalProperties: { $ref: '#/definitions/profile' },
      },
    },
    definitions: {
      ...definitions,
      profile: {
        type: 'object',
        title: 'Profile',
        description: 'Overrides of the base experiment. Mappings merge, lists replace.',
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(body).map(([k, v]) => [k, partialSchema(v)])),
      },
    },
  };
}

/** The schema, built once. */
export const experimentSchema: JsonSchema = buildExperimentSchema();
