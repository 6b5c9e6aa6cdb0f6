/**
 * The training-recipe parts of the experiment format, on the same TypeBox building blocks as the rest
 * (`schema.ts` places them): the optimizer and its kinds, the learning-rate schedule, label smoothing,
 * augmentation, evaluation during training, seeds and the time-to-accuracy expectation. Kind-dependent
 * keys follow the dataset's pattern: a `kind` enum, and per kind an `if`/`then` branch that closes the
 * mapping, so an error names the field of the chosen kind.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TObject } from '@sinclair/typebox';
import { constant, dflt, int, num, obj, opt, type TUnit, type TVariants } from '../shape/index.ts';
import { SCHEDULE_KINDS } from '../vocab/schedule.ts';

/** A mapping whose `kind` (default `defaultKind`) picks one of `kinds`, each a closed object. */
function variants<V extends Record<string, TObject>>(description: string, defaultKind: keyof V & string, kinds: V) {
  const names = Object.keys(kinds);
  const schema = Type.Unsafe<Static<V[keyof V]>>({
    type: 'object',
    description,
    properties: {
      kind: {
        enum: names,
        description: names.map((k) => `\`${k}\`: ${kinds[k]!.description}`).join('; '),
        default: defaultKind,
      },
    },
    allOf: names.map((kind) => {
      const required = (kinds[kind]!.required ?? []).filter((k) => k !== 'kind');
      return {
        if: { properties: { kind: { const: kind } }, ...(kind === defaultKind ? {} : { required: ['kind'] }) },
        // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword
        then: {
          additionalProperties: false,
          properties: { ...kinds[kind]!.properties, kind: { const: kind, description: kinds[kind]!.description } },
          ...(required.length ? { required } : {}),
        },
      };
    }),
  }) as TVariants<V>;
  // Absent: the default kind with its defaults.
  return dflt(schema, {} as Static<typeof schema>);
}

const lr = dflt(Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'Learning rate.' }), 0.01);
const adam = {
  lr,
  beta1: dflt(num(0, 0.999999, 'Decay of the first-moment average (β1).'), 0.9),
  beta2: dflt(num(0, 0.999999999, 'Decay of the second-moment average (β2).'), 0.999),
  epsilon: dflt(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Added to the denominator (ε).' }), 1e-8),
};

export const Optimizer = variants('The optimiser.', 'sgd', {
  sgd: obj('stochastic gradient descent with momentum (PyTorch’s SGD, dampening 0)', {
    kind: constant('sgd'),
    lr,
    momentum: dflt(num(0, 0.999999, 'Momentum (0 = plain SGD).'), 0.9),
    nesterov: dflt(Type.Boolean({ description: 'Nesterov momentum.' }), false),
    weightDecay: dflt(num(0, 1, 'L2 weight decay added to the gradient.'), 0),
  }),
  adam: obj('Adam with bias correction (PyTorch’s Adam)', {
    kind: constant('adam'),
    ...adam,
    weightDecay: dflt(num(0, 1, 'L2 weight decay added to the gradient.'), 0),
  }),
  adamw: obj('Adam with decoupled weight decay (PyTorch’s AdamW)', {
    kind: constant('adamw'),
    ...adam,
    weightDecay: dflt(num(0, 1, 'Decoupled weight decay: w ← w·(1 − lr·weightDecay) every step.'), 0.01),
  }),
});

const warmup = dflt(
  num(0, 10_000, 'Linear warm-up over this many epochs (fractions allowed), multiplying the rate.'),
  0,
);
const gamma = dflt(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Factor per decay.' }), 0.1);
const scheduleKinds = {
  constant: obj('the optimizer’s rate throughout', { kind: constant('constant'), warmup }),
  step: obj('the rate times gamma every `every` epochs', {
    kind: constant('step'),
    every: int(1, 10_000, 'Epochs between decays.'),
    gamma,
    warmup,
  }),
  multistep: obj('the rate times gamma at each milestone epoch', {
    kind: constant('multistep'),
    milestones: Type.Array(int(1, 10_000, 'An epoch.'), {
      description: 'Epochs (0-based) from which the next factor applies.',
      minItems: 1,
      maxItems: 100,
      uniqueItems: true,
    }),
    gamma,
    warmup,
  }),
  cosine: obj('cosine annealing per step from the rate to minLr over the configured epochs', {
    kind: constant('cosine'),
    minLr: dflt(num(0, 10, 'Rate at the end.'), 0),
    warmup,
  }),
  'one-cycle': obj(
    'PyTorch’s OneCycleLR (cosine): up from lr/divFactor to lr, then down to lr/(divFactor·finalDivFactor)',
    {
      kind: constant('one-cycle'),
      pctStart: dflt(num(0.01, 0.99, 'Share of the steps spent rising to the peak.'), 0.3),
      divFactor: dflt(num(1, 1e6, 'Starting rate = lr / divFactor.'), 25),
      finalDivFactor: dflt(num(1, 1e9, 'Final rate = starting rate / finalDivFactor.'), 1e4),
    },
  ),
};
if (Object.keys(scheduleKinds).join() !== SCHEDULE_KINDS.join()) throw new Error('schedule kinds out of step');

export const Schedule = variants(
  'Learning-rate schedule, evaluated per step by the runner and fed to every backend.',
  'constant',
  scheduleKinds,
);

/** Keys added to `training`. */
export const trainingRecipeProperties = {
  schedule: Schedule,
  stopAfter: opt(
    int(
      1,
      10_000,
      'Run only the first this many epochs of the recipe (the schedule still spans `epochs`): a truncated run, e.g. to compare backends on the first epoch of a long recipe.',
    ),
  ),
  labelSmoothing: dflt(num(0, 0.99, 'Label smoothing ε of the cross-entropy: target (1 − ε)·onehot + ε/classes.'), 0),
  augment: opt(
    obj('Data augmentation of the training images, the same for every backend (seeded).', {
      crop: opt(
        obj('Random crop after padding every side with black pixels.', {
          size: opt(int(1, 4096, 'Crop side; must be the image side (the network input does not change).')),
          padding: dflt(int(0, 1024, 'Pixels of padding on every side.'), 4),
        }),
      ),
      flip: dflt(Type.Boolean({ description: 'Random horizontal flip with probability ½.' }), false),
    }),
  ),
};

/** Top-level keys. */
export const recipeProperties = {
  evaluate: opt(
    obj(
      'Evaluate on the test split during training (its own timed phase, outside the training clock): accuracy and loss per evaluated epoch.',
      { every: dflt(int(1, 10_000, 'Evaluate after every this many epochs (and after the last).'), 1) },
    ),
  ),
  seeds: opt(
    Type.Array(int(0, 2 ** 32 - 1, 'A seed.'), {
      description:
        'One repeat per seed, each with its own initial weights, data order and augmentation (replaces training.seed; sets repeats).',
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
    }),
  ),
};

/** Added to `expect`; `within` is a duration, so the caller passes its duration builder. */
export function timeToAccuracySchema(duration: (description: string) => TUnit<'seconds'>) {
  return opt(
    obj(
      'Train until the test accuracy reaches `target` (evaluated every `evaluate.every` epochs, 1 by default): training stops there; never reaching it, or not within `within` of training time, fails.',
      {
        target: num(0, 1, 'Test accuracy to reach (0–1).'),
        within: opt(duration('Budget of training time (evaluation excluded) to reach it.')),
      },
    ),
  );
}
