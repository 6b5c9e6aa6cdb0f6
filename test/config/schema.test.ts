import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import { describe, expect, test } from 'vitest';
import { registeredBackendIds } from '../../src/backends/registry.ts';
import { BACKEND_IDS, knownBackendIds, TEST_BACKEND_IDS } from '../../src/vocab/backends.ts';
import { ARCHS, LAYER_DEFAULTS } from '../../src/models/index.ts';
import { ARCH_NAMES, buildExperimentSchema, experimentSchema, partialSchema } from '../../src/config/schema.ts';
import type { JsonSchema } from '../../src/config/schema.ts';
import { SCHEMA_FILE, schemaFileText } from '../../src/config/write-schema.ts';

const Ajv = AjvModule.default;

describe('schema/experiment.schema.json', () => {
  test('is the schema the loader validates with (regenerate: npx tsx src/config/write-schema.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaFileText());
  });

  test('is a valid draft-07 schema that ajv compiles in strict mode', () => {
    const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true });
    expect(ajv.validateSchema(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')))).toBe(true);
    expect(() => ajv.compile(buildExperimentSchema())).not.toThrow();
  });

  test('carries an $id, a title and a description on every property, for editors', () => {
    expect(experimentSchema.$id).toMatch(/^urn:expbench:experiment:1$/);
    expect(experimentSchema.title).toBeTruthy();
    const missing: string[] = [];
    const walk = (s: JsonSchema, path: string): void => {
      for (const [k, v] of Object.entries((s.properties as Record<string, JsonSchema> | undefined) ?? {})) {
        if (!v.description) missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
      for (const b of (s.allOf as JsonSchema[] | undefined) ?? []) walk(b.then as JsonSchema, path);
    };
    walk(experimentSchema, '');
    for (const [name, def] of Object.entries(experimentSchema.definitions as Record<string, JsonSchema>))
      walk(def, `#${name}`);
    expect(missing).toEqual([]);
  });

  test('forbids unknown keys in every mapping but the free-form reference and the metric bounds of expect', () => {
    const open: string[] = [];
    const walk = (s: JsonSchema, path: string): void => {
      const props = s.properties as Record<string, JsonSchema> | undefined;
      const isMapping = s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
      // expect's other keys are metric names, each a metric bound; the loader checks the names against the registry.
      const boundsOnly =
        path.endsWith('expect') && JSON.stringify(s.additionalProperties) === '{"$ref":"#/definitions/metricBound"}';
      if (isMapping && props && s.additionalProperties !== false && !s.allOf && !boundsOnly) open.push(path);
      for (const [k, v] of Object.entries(props ?? {})) walk(v, `${path}.${k}`);
      for (const b of (s.allOf as JsonSchema[] | undefined) ?? []) {
        const t = b.then as JsonSchema;
        if (t.additionalProperties !== false) open.push(`${path}(then)`);
        walk(t, path);
      }
    };
    walk(experimentSchema, '');
    for (const [name, def] of Object.entries(experimentSchema.definitions as Record<string, JsonSchema>))
      walk(def, `#${name}`);
    expect(open).toEqual([]);
    expect((experimentSchema.properties as Record<string, JsonSchema>).reference!.additionalProperties).toBeUndefined();
  });

  test('lists exactly the backends of the registry', () => {
    const ids = (experimentSchema.definitions as Record<string, JsonSchema>).backendId!.enum;
    expect(ids).toEqual([...BACKEND_IDS, ...TEST_BACKEND_IDS]);
    expect([...(ids as string[])].sort()).toEqual(knownBackendIds().sort());
    expect(registeredBackendIds().sort()).toEqual(knownBackendIds().sort());
  });

  test('lists exactly the architectures the model builder accepts', () => {
    expect([...ARCH_NAMES].sort()).toEqual([...ARCHS].sort());
  });

  test('states the same layer defaults as the model builder applies', () => {
    const layer = (experimentSchema.definitions as Record<string, JsonSchema>).layer!.properties as Record<
      string,
      JsonSchema
    >;
    const props = (k: string): Record<string, JsonSchema> => layer[k]!.properties as Record<string, JsonSchema>;
    expect(props('conv').kernel!.default).toBe(LAYER_DEFAULTS.convKernel);
    expect(props('conv').stride!.default).toBe(LAYER_DEFAULTS.convStride);
    expect(props('conv').padding!.default).toBe(LAYER_DEFAULTS.convPadding);
    expect(props('maxpool').size!.default).toBe(LAYER_DEFAULTS.poolSize);
    expect(props('batchnorm').epsilon!.default).toBe(LAYER_DEFAULTS.bnEpsilon);
    expect(props('batchnorm').momentum!.default).toBe(LAYER_DEFAULTS.bnMomentum);
  });
});

describe('profiles take a partial experiment', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  const validate = ajv.compile(experimentSchema);
  const base = {
    name: 'p',
    dataset: { kind: 'synthetic', train: 10, test: 10 },
    model: { arch: 'vgg-small' },
    backends: ['tfjs/cpu'],
  };

  test('a profile may set a single nested key without the required siblings', () => {
    expect(
      validate({
        ...base,
        profiles: { quick: { training: { epochs: 1 }, dataset: { train: 5 }, model: { width: 0.5 } } },
      }),
    ).toBe(true);
  });

  test('but unknown keys, wrong types and out-of-range values are still errors inside profiles', () => {
    expect(validate({ ...base, profiles: { quick: { training: { epoch: 1 } } } })).toBe(false);
    expect(validate({ ...base, profiles: { quick: { training: { epochs: 'ten' } } } })).toBe(false);
    expect(validate({ ...base, profiles: { quick: { training: { epochs: 1e12 } } } })).toBe(false);
    expect(validate({ ...base, profiles: { quick: { name: 'other' } } })).toBe(false);
  });

  test('a list in a profile replaces the whole list, so its items stay fully checked', () => {
    expect(validate({ ...base, profiles: { c: { model: { arch: 'custom', layers: [{ conv: {} }] } } } })).toBe(false);
    expect(
      validate({ ...base, profiles: { c: { model: { arch: 'custom', layers: [{ conv: { filters: 8 } }] } } } }),
    ).toBe(true);
  });

  test('partialSchema drops required and defaults, keeps the kind test of a branch', () => {
    const p = partialSchema({
      type: 'object',
      required: ['a'],
      properties: {
        a: { type: 'object', required: ['b'], default: {}, properties: { b: { type: 'integer', default: 1 } } },
      },
      allOf: [
        {
          if: { properties: { kind: { const: 'x' } }, required: ['kind'] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
          then: { required: ['c'], properties: { c: { type: 'string' } } },
        },
      ],
    });
    expect(p).toEqual({
      type: 'object',
      properties: { a: { type: 'object', properties: { b: { type: 'integer' } } } },
      allOf: [
        {
          if: { properties: { kind: { const: 'x' } }, required: ['kind'] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword; this object is a schema, never awaited
          then: { properties: { c: { type: 'string' } } },
        },
      ],
    });
  });
});
