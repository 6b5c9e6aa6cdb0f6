/**
 * The loaded experiment's types come from the schema objects (`src/config/schema.ts`): these checks
 * run under `npm run typecheck` and fail when a default, an optional key or a unit stops being
 * reflected in the types.
 */
import { describe, expectTypeOf, test } from 'vitest';
import { loadExperiment } from '../../src/config/index.ts';
import type { DatasetConfig, Expectations, Experiment, ModelConfig } from '../../src/config/index.ts';
import type { SyntheticSpec } from '../../src/data/synthetic.ts';
import type { LayerSpec } from '../../src/models/ir.ts';

describe('types derived from the schema', () => {
  test('a key with a default is always present; one without stays optional', () => {
    type Synthetic = Extract<DatasetConfig, { kind: 'synthetic' }>;
    expectTypeOf<Synthetic['imageSize']>().toEqualTypeOf<number>();
    expectTypeOf<Extract<DatasetConfig, { kind: 'image-folder' }>['imageSize']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Extract<DatasetConfig, { kind: 'image-folder' }>['sizeMismatch']>().toEqualTypeOf<
      'resize' | 'reject'
    >();
    expectTypeOf<Extract<Experiment['training']['optimizer'], { kind: 'sgd' }>>().toEqualTypeOf<{
      kind: 'sgd';
      lr: number;
      momentum: number;
      nesterov: boolean;
      weightDecay: number;
    }>();
    expectTypeOf<Experiment['training']['optimizer']['kind']>().toEqualTypeOf<'sgd' | 'adam' | 'adamw'>();
    expectTypeOf<Experiment['seeds']>().toEqualTypeOf<number[] | undefined>();
    expectTypeOf<Experiment['description']>().toEqualTypeOf<string>();
    expectTypeOf<Experiment['artefact']>().toEqualTypeOf<string | undefined>();
  });

  test('durations and sizes are numbers once loaded', () => {
    expectTypeOf<Experiment['timeout']>().toEqualTypeOf<number>();
    expectTypeOf<NonNullable<Expectations['time']>['train']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<NonNullable<Expectations['memory']>['device']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<NonNullable<Expectations['timeToAccuracy']>['within']>().toEqualTypeOf<number | undefined>();
  });

  test('custom layers are the model IR, and the synthetic generator takes the config dataset', () => {
    expectTypeOf<ModelConfig['layers']>().toEqualTypeOf<LayerSpec[] | undefined>();
    expectTypeOf<SyntheticSpec>().toEqualTypeOf<Omit<Extract<DatasetConfig, { kind: 'synthetic' }>, 'kind'>>();
    expectTypeOf(loadExperiment).returns.toEqualTypeOf<Experiment>();
  });
});
