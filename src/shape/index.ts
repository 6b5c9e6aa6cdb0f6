/**
 * The building blocks of the experiment format, on TypeBox: each layer defines the shape of the part
 * of an experiment it takes (`data/config.ts` the dataset, `models/config.ts` the model, `config/schema.ts`
 * the rest and the whole) with these, and one object is both that part's JSON Schema and, through
 * {@link Filled}, its TypeScript type. Enumerations and constants are written as `enum` / `const`
 * (not TypeBox's `anyOf` of literals), so the loader's messages for them stay one line.
 */
import { Type } from '@sinclair/typebox';
import type { ObjectOptions, SchemaOptions, Static, TObject, TOptional, TProperties, TSchema } from '@sinclair/typebox';

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

export const int = (minimum: number, maximum: number, description: string, extra: SchemaOptions = {}) =>
  Type.Integer({ minimum, maximum, description, ...extra });

export const num = (minimum: number, maximum: number, description: string, extra: SchemaOptions = {}) =>
  Type.Number({ minimum, maximum, description, ...extra });

/** A mapping that accepts only the listed keys; a key is required unless wrapped in `opt` or `dflt`. */
export const obj = <P extends TProperties>(description: string, properties: P, extra: ObjectOptions = {}) =>
  Type.Object(properties, { description, additionalProperties: false, ...extra });

export const opt = Type.Optional;

/** An optional key with its default: absent from a file, always present in the loaded experiment. */
export function dflt<T extends TSchema>(schema: T, value: Static<T>): TOptional<T & { default: Static<T> }> {
  return Type.Optional({ ...schema, default: value }) as TOptional<T & { default: Static<T> }>;
}

/** One of a fixed list of values, as a JSON Schema `enum`. */
export const oneOf = <const V extends readonly (string | number)[]>(values: V, options: SchemaOptions = {}) =>
  Type.Unsafe<V[number]>({ enum: [...values], ...options });

/** Exactly one value, as a JSON Schema `const`. */
export const constant = <const V extends string | number>(value: V, options: SchemaOptions = {}) =>
  Type.Unsafe<V>({ const: value, ...options });

/** Marks, in the type only, a mapping whose `kind` selects one of `V`'s object schemas. */
declare const VariantsKind: unique symbol;
export type TVariants<V extends Record<string, TObject>> = ReturnType<typeof Type.Unsafe<Static<V[keyof V]>>> & {
  [VariantsKind]: V;
};

/** Marks, in the type only, a value written with units that the loader turns into a number. */
declare const UnitKind: unique symbol;
export type TUnit<U extends 'seconds' | 'bytes'> = ReturnType<typeof Type.Unsafe<number | string>> & { [UnitKind]: U };

/**
 * The type of a value of schema `T` once defaults are filled: a key with a {@link dflt} default is
 * required, an `opt` key optional, a duration or size `Unit` (a number once the loader converted it).
 */
export type Filled<T, Unit = number> = T extends { [UnitKind]: 'seconds' | 'bytes' }
  ? Unit
  : T extends { [VariantsKind]: infer V extends Record<string, TObject> }
    ? { [K in keyof V]: Filled<V[K], Unit> }[keyof V]
    : T extends TObject<infer P>
      ? FilledObject<P, Unit>
      : T extends TSchema
        ? Static<T>
        : never;

type OptionalWithoutDefault<S> = S extends TOptional<TSchema> ? (S extends { default: unknown } ? false : true) : false;
type FilledObject<P extends TProperties, Unit> = {
  -readonly [K in keyof P as OptionalWithoutDefault<P[K]> extends true ? never : K]-?: Filled<P[K], Unit>;
} & {
  -readonly [K in keyof P as OptionalWithoutDefault<P[K]> extends true ? K : never]?: Filled<P[K], Unit>;
} extends infer O
  ? { [K in keyof O]: O[K] }
  : never;
