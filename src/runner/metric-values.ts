/**
 * Every named metric of src/vocab/metric-registry.ts read off a result record: the figure, the samples it
 * comes from and how it was summarised, in one place for the expectation checks, the reports and the
 * declared figures. Derived figures (inference throughput, GFLOP/s, latency percentiles) are computed
 * here from the raw samples, never stored, so they cannot disagree with them.
 */
import { type MetricDef, type MetricUnit, metricDef, topK } from '../vocab/metric-registry.ts';
import { formatBytes, formatSeconds } from '../stats/format.ts';
import { median, quantile, sortSamples } from '../stats/summary.ts';
import type { MemoryFigure, ResultRecord } from './record.ts';

export interface MetricValue {
  def: MetricDef;
  value: number;
  /** The samples the value summarises (repeats, or latency calls). */
  samples: number[];
  /** How the value was obtained, for messages: `median of 3 repeats`, `p99 of 200 calls at batch 8`. */
  how: string;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function ofMedian(def: MetricDef, samples: readonly number[] | undefined): MetricValue | undefined {
  const finite = (samples ?? []).filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  return {
    def,
    value: median(sortSamples(finite)),
    samples: finite,
    how: `median of ${plural(finite.length, 'repeat')}`,
  };
}

/** The value of metric `name` in `record`, or undefined when the record has nothing to compute it from. */
export function metricValue(record: ResultRecord, name: string): MetricValue | undefined {
  const def = metricDef(name);
  if (!def) return undefined;
  const m = record.metrics;
  const [group, part] = name.split('.') as [string, string | undefined];
  switch (group) {
    case 'time':
      return ofMedian(def, record.phases[part as keyof ResultRecord['phases']]?.samples);
    case 'throughput':
      return ofMedian(def, part === 'train' ? record.phases.train?.imagesPerSecond : inferIps(record));
    case 'top1':
      return ofMedian(def, record.accuracy?.samples);
    case 'memory': {
      const figs = memoryFiguresOf(record, name);
      if (figs.length === 0) return undefined;
      const samples = figs.map((f) => f.bytes);
      return { def, value: Math.max(...samples), samples, how: `worst of ${plural(samples.length, 'figure')}` };
    }
    case 'params': {
      const p = record.experiment.paramCount;
      return p === undefined ? undefined : { def, value: p, samples: [p], how: 'of the model' };
    }
    case 'latency': {
      const l = m?.latency;
      if (!l || l.samples.length === 0) return undefined;
      const s = sortSamples(l.samples);
      const at = `${plural(s.length, 'call')} at batch ${l.batchSize}`;
      if (part === 'calls') return { def, value: s.length, samples: [...s], how: at };
      const value = part === 'max' ? s[s.length - 1]! : quantile(s, Number(part!.slice(1)) / 100);
      return { def, value, samples: [...s], how: `${part} of ${at}` };
    }
    case 'loss':
      return ofMedian(def, m?.testLoss);
    case 'perClass':
      return ofMedian(
        def,
        m?.perClass?.map((row) => Math.min(...row.filter((v): v is number => v !== null))),
      );
    case 'macs':
      return m?.macs === undefined ? undefined : { def, value: m.macs, samples: [m.macs], how: 'per example, forward' };
    case 'gflops': {
      const flops = m?.flopsPerExample?.[part as 'train' | 'infer'];
      if (flops === undefined) return undefined;
      const ips = part === 'train' ? record.phases.train?.imagesPerSecond : inferIps(record);
      return ofMedian(
        def,
        ips?.map((v) => (v * flops) / 1e9),
      );
    }
    default: {
      const k = topK(name);
      return k === undefined ? undefined : ofMedian(def, m?.topk?.[String(k)]);
    }
  }
}

/**
 * The memory figures a `memory.*` metric is the worst of: peak RSS of the phase for `memory.train` /
 * `memory.infer`, device memory of training and inference for `memory.device`; none for other names.
 */
export function memoryFiguresOf(record: ResultRecord, name: string): MemoryFigure[] {
  if (name === 'memory.device')
    return [...(record.memory.train ?? []), ...(record.memory.infer ?? [])].filter((f) => f.metric === 'device');
  if (name === 'memory.train' || name === 'memory.infer')
    return (record.memory[name === 'memory.train' ? 'train' : 'infer'] ?? []).filter((f) => f.metric === 'peak-rss');
  return [];
}

/** Inference images per second of each repeat: the test set over the infer phase's time. */
function inferIps(record: ResultRecord): number[] | undefined {
  return record.phases.infer?.samples.map((s) => record.experiment.testExamples / s);
}

/** A metric's value in its unit, as messages and reports print it. */
export function formatMetric(value: number, unit: MetricUnit): string {
  switch (unit) {
    case 's':
      return formatSeconds(value);
    case 'bytes':
      return formatBytes(value);
    case 'fraction':
      return `${(value * 100).toFixed(1)}%`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    case 'img/s':
      return `${value.toFixed(1)} img/s`;
    case 'GFLOP/s':
      return `${value.toPrecision(3)} GFLOP/s`;
    case 'nats':
      return value.toPrecision(4);
  }
}
