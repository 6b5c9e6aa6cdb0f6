/**
 * Memory metric names: what a record's memory figures measure. The runner produces them, budgets
 * check some, the reporters label and order them. Pure data.
 */

/** Every memory metric, in the order tables list them. */
export const MEMORY_METRICS = [
  /** Peak resident set of the case's process in the phase. */
  'peak-rss',
  /** GPU memory the driver attributes to the case's process. */
  'device',
  /** GPU memory in use on the whole device. */
  'device-total',
  /** Bytes the runtime says it holds. */
  'backend',
  'heap-used',
  'array-buffers',
  'external',
  /** Bytes of the loaded images and labels. */
  'dataset',
] as const;
export type MemoryMetric = (typeof MEMORY_METRICS)[number];

/**
 * How a device-memory figure was obtained: the driver's figure for the case's own process
 * (`driver-process`, nvidia-smi's compute apps), bytes the backend itself counts on the device
 * (`backend-counter`, e.g. tfjs's `numBytesInGPU`), or the whole card's use, every process included
 * (`card-total`).
 */
export const DEVICE_MEMORY_METHODS = ['driver-process', 'backend-counter', 'card-total'] as const;
export type DeviceMemoryMethod = (typeof DEVICE_MEMORY_METHODS)[number];

/** Each method in words, as budgets and reports name it. */
export const DEVICE_METHOD_WORDS: Record<DeviceMemoryMethod, string> = {
  'driver-process': "the driver's figure for the case's process",
  'backend-counter': "the backend's own count of its device buffers",
  'card-total': 'the whole card, every process',
};
