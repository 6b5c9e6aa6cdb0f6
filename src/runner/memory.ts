/**
 * Memory figures of one phase, measured INSIDE the case's own process:
 *
 * - `peak-rss`: on Linux the kernel's high-water mark `VmHWM` from `/proc/<pid>/status`. At the phase
 *   start the mark is reset by writing `5` to `/proc/<pid>/clear_refs` (Linux ≥ 4.0), so at the end it
 *   is exactly the phase's peak — reliable, whatever the main thread was doing. Where the reset is not
 *   permitted, the mark still gives the exact phase peak if the phase raised it; otherwise only the
 *   maximum of `VmRSS` sampled on a timer is known, which misses spikes between samples and samples
 *   nothing while synchronous work blocks the event loop — reported as not reliable.
 *   Elsewhere: `process.resourceUsage().maxRSS` the same way, or sampled `process.memoryUsage().rss`.
 * - `heap-used`, `external`, `array-buffers`: peaks of `process.memoryUsage()` sampled on the timer
 *   (the V8 heap and the buffers backends allocate outside it).
 * - `device`: the process's own GPU memory from
 *   `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` filtered by pid (it
 *   attributes WebGPU/Dawn allocations to the Node process), sampled during the phase. Where nvidia-smi
 *   cannot see the process, `device-total` (method `card-total`) stands in, marked not reliable: the whole
 *   card's `memory.used` (every process) as a delta, its peak during the phase minus its reading as the
 *   phase started; without that, the whole device's use at the phase end via systeminformation.
 *
 * A source that does not exist is listed in {@link MemorySampler.absent} with the reason — never
 * reported as zero — and the record keeps those reasons (`memoryAbsent`). Device figures carry their
 * method (`driver-process`, `card-total`; a backend's own counter is `backend-counter`, see
 * {@link withBackendMemory}). Sampling runs on the main thread on purpose: a helper thread would itself add
 * several MiB to the resident set it measures.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { BackendMemory } from '../backends/types.ts';
import type { AbsentMemory, MemoryFigure } from './record.ts';

export interface MemorySamplerOptions {
  /** Sampling period of the timer. @default 50 */
  intervalMs?: number;
  /** Process measured. @default process.pid */
  pid?: number;
  /** Reset the kernel's peak-RSS mark at start (`/proc/<pid>/clear_refs`). @default true */
  resetPeak?: boolean;
  /** Query device memory: `'auto'` tries nvidia-smi, then systeminformation. @default 'auto' */
  device?: 'auto' | false;
  /** Period of device queries (each spawns nvidia-smi, ~50 ms of CPU). @default 500 */
  deviceIntervalMs?: number;
  /** The nvidia-smi executable. @default {@link nvidiaSmiPath} */
  nvidiaSmi?: string;
}

/** A memory source that could not be read, and why. */
export type AbsentSource = AbsentMemory;

/** The nvidia-smi executable: `EXPBENCH_NVIDIA_SMI` (a stand-in in tests), else `nvidia-smi` on the PATH. */
export function nvidiaSmiPath(): string {
  return process.env.EXPBENCH_NVIDIA_SMI || 'nvidia-smi';
}

export interface MemorySampler {
  /** Takes one sample now (e.g. right after a step the runner knows is the heaviest). */
  sample(): void;
  /** Stops sampling and returns the phase's figures. Call once. */
  stop(): Promise<MemoryFigure[]>;
  /** Sources that gave nothing; filled by {@link MemorySampler.stop}. */
  readonly absent: AbsentSource[];
}

/** Reads `VmHWM` and `VmRSS` (bytes) from a `/proc/<pid>/status` text. */
export function parseProcStatus(text: string): { hwm?: number; rss?: number } {
  const out: { hwm?: number; rss?: number } = {};
  const hwm = /^VmHWM:\s+(\d+)\s*kB/m.exec(text);
  const rss = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  if (hwm) out.hwm = Number(hwm[1]) * 1024;
  if (rss) out.rss = Number(rss[1]) * 1024;
  return out;
}

/**
 * Parses `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` and returns the
 * bytes used by `pid` (summed over GPUs), or undefined when the process is not listed.
 */
export function parseComputeApps(stdout: string, pid: number): number | undefined {
  let total: number | undefined;
  for (const line of stdout.split('\n')) {
    const [p, mib] = line.split(',').map((s) => s.trim());
    if (!p || !mib) continue;
    if (Number(p) === pid && Number.isFinite(Number(mib))) total = (total ?? 0) + Number(mib) * 2 ** 20;
  }
  return total;
}

/**
 * Parses `nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits` (one MiB figure per GPU)
 * and returns the bytes used on every card together, or undefined when it holds no figure.
 */
export function parseCardUsed(stdout: string): number | undefined {
  let total: number | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t === '' || !Number.isFinite(Number(t))) continue;
    total = (total ?? 0) + Number(t) * 2 ** 20;
  }
  return total;
}

/** Starts sampling; call {@link MemorySampler.stop} at the end of the phase. */
export function startMemorySampler(opts: MemorySamplerOptions = {}): MemorySampler {
  const intervalMs = opts.intervalMs ?? 50;
  const pid = opts.pid ?? process.pid;
  const self = pid === process.pid;
  const absent: AbsentSource[] = [];
  const rss = watchResidentSet(pid, self, intervalMs, opts.resetPeak ?? true);
  const heap = watchHeap(pid, intervalMs);

  // One reading of process.memoryUsage() per tick serves both watchers.
  const sample = (): void => {
    const usage = self ? process.memoryUsage() : undefined;
    rss.sample(usage);
    if (usage) heap.sample(usage);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();

  const device =
    (opts.device ?? 'auto') === 'auto'
      ? watchDevice(pid, opts.nvidiaSmi ?? nvidiaSmiPath(), opts.deviceIntervalMs ?? 500)
      : undefined;

  let stopped = false;
  return {
    sample,
    absent,
    async stop(): Promise<MemoryFigure[]> {
      if (stopped) throw new Error('memory sampler already stopped');
      stopped = true;
      clearInterval(timer);
      sample();
      const found: (MemoryFigure[] | AbsentSource)[] = [
        rss.stop(),
        heap.stop(),
        device ? await device.stop() : { metric: 'device', reason: 'device memory not requested' },
      ];
      const figures: MemoryFigure[] = [];
      for (const f of found) {
        if (Array.isArray(f)) figures.push(...f);
        else absent.push(f);
      }
      return figures;
    },
  };
}

/** What a watcher saw by the end of the phase: its figures, or why its source gave nothing. */
interface Watcher<Reading> {
  sample(reading: Reading): void;
  stop(): MemoryFigure[] | AbsentSource;
}

/**
 * The phase's peak resident set: the kernel's high-water mark, reset at the start where permitted
 * (exact), or raised by the phase (exact), or else the maximum of sampled resident sets (not reliable).
 */
function watchResidentSet(
  pid: number,
  self: boolean,
  intervalMs: number,
  resetPeak: boolean,
): Watcher<NodeJS.MemoryUsage | undefined> {
  const procDir = `/proc/${self ? 'self' : pid}`;
  const statusPath = `${procDir}/status`;
  const readStatus = (): { hwm?: number; rss?: number } | undefined => {
    try {
      return parseProcStatus(readFileSync(statusPath, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const hasProc = readStatus()?.hwm !== undefined;
  let resetOk = false;
  let resetError: string | undefined;
  if (hasProc && resetPeak) {
    try {
      writeFileSync(`${procDir}/clear_refs`, '5');
      resetOk = true;
    } catch (e) {
      resetError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
  } else if (!hasProc) {
    resetError = `${statusPath} not readable`;
  }
  const highWaterMark = (): number | undefined =>
    hasProc ? readStatus()?.hwm : self ? process.resourceUsage().maxRSS * 1024 : undefined;
  // Lifetime high-water mark at the start (after the reset, the current resident set).
  const startHwm = highWaterMark();
  let rssMax = 0;
  let rssSamples = 0;

  return {
    sample(usage) {
      const rss = hasProc ? readStatus()?.rss : usage?.rss;
      if (rss !== undefined) {
        rssMax = Math.max(rssMax, rss);
        rssSamples++;
      }
    },
    stop() {
      const endHwm = highWaterMark();
      const hwmSource = hasProc ? `${statusPath} VmHWM` : 'process.resourceUsage().maxRSS';
      const noReset = resetError ? `peak reset not possible (${resetError})` : undefined;
      if (resetOk && endHwm !== undefined) {
        return [
          {
            metric: 'peak-rss',
            bytes: endHwm,
            source: `${hwmSource} (reset via clear_refs at phase start)`,
            reliable: true,
          },
        ];
      }
      if (endHwm !== undefined && startHwm !== undefined && endHwm > startHwm) {
        const figure: MemoryFigure = {
          metric: 'peak-rss',
          bytes: endHwm,
          source: `${hwmSource} (the phase raised the process's high-water mark)`,
          reliable: true,
        };
        if (noReset) figure.note = noReset;
        return [figure];
      }
      if (rssSamples > 0) {
        return [
          {
            metric: 'peak-rss',
            bytes: rssMax,
            source: `${hasProc ? 'VmRSS' : 'process.memoryUsage().rss'} sampled every ${intervalMs} ms`,
            readings: rssSamples,
            reliable: false,
            note: `max of samples: spikes between samples, or while synchronous work blocked the event loop, are missed${noReset ? `; ${noReset}` : ''}`,
          },
        ];
      }
      return {
        metric: 'peak-rss',
        reason: `no resident-set source for pid ${pid} (${resetError ?? 'not this process'})`,
      };
    },
  };
}

/** Peaks of the V8 heap and the buffers outside it, sampled; only for this process. */
function watchHeap(pid: number, intervalMs: number): Watcher<NodeJS.MemoryUsage> {
  let heapUsed = 0;
  let external = 0;
  let arrayBuffers = 0;
  let samples = 0;
  return {
    sample(usage) {
      heapUsed = Math.max(heapUsed, usage.heapUsed);
      external = Math.max(external, usage.external);
      arrayBuffers = Math.max(arrayBuffers, usage.arrayBuffers);
      samples++;
    },
    stop() {
      if (samples === 0) {
        return { metric: 'heap-used', reason: `process.memoryUsage() describes only this process, not pid ${pid}` };
      }
      const source = `process.memoryUsage() sampled every ${intervalMs} ms`;
      const note = 'max of samples; garbage collection between samples can hide a higher peak';
      const readings = samples;
      return [
        { metric: 'heap-used', bytes: heapUsed, source, readings, reliable: false, note },
        { metric: 'external', bytes: external, source, readings, reliable: false, note },
        { metric: 'array-buffers', bytes: arrayBuffers, source, readings, reliable: false, note },
      ];
    },
  };
}

/**
 * GPU memory the driver attributes to `pid`, polled with nvidia-smi one query at a time. Where it lists
 * no such process (a Vulkan process may be missing from its compute apps), the whole card's use stands
 * in as a delta, marked not reliable: its peak during the phase minus its reading as the phase started
 * (every process on the card counts). Where nvidia-smi gives no card figure either, the whole device's
 * use at the phase end from systeminformation.
 */
function watchDevice(pid: number, smi: string, intervalMs: number): { stop(): Promise<MemoryFigure[] | AbsentSource> } {
  let deviceMax: number | undefined;
  let deviceSamples = 0;
  let deviceError: string | undefined;
  let inFlight: Promise<void> | undefined;
  let cardMax: number | undefined;
  let cardSamples = 0;
  const querySmi = (args: string[]): Promise<{ stdout?: string; error?: string }> =>
    new Promise((resolve) => {
      execFile(smi, args, { timeout: 5000, windowsHide: true }, (err, stdout) => {
        if (!err) return resolve({ stdout });
        const code = (err as NodeJS.ErrnoException).code;
        resolve({ error: code === 'ENOENT' ? `${smi} not found` : `${smi} failed: ${err.message.split('\n')[0]}` });
      });
    });
  const queryCard = async (): Promise<number | undefined> => {
    const { stdout } = await querySmi(['--query-gpu=memory.used', '--format=csv,noheader,nounits']);
    return stdout === undefined ? undefined : parseCardUsed(stdout);
  };
  // The card's use as the phase starts: the base of the whole-card delta.
  const cardBefore = queryCard();
  const queryDevice = async (): Promise<void> => {
    const { stdout, error } = await querySmi(['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits']);
    if (stdout === undefined) {
      deviceError = error;
      return;
    }
    deviceSamples++;
    const bytes = parseComputeApps(stdout, pid);
    if (bytes !== undefined) {
      deviceMax = Math.max(deviceMax ?? 0, bytes);
      return;
    }
    // Not listed: the whole card's use is all there is.
    const card = await queryCard();
    if (card !== undefined) {
      cardMax = Math.max(cardMax ?? 0, card);
      cardSamples++;
    }
  };
  const pollDevice = (): void => {
    // One query at a time: a slow driver must not pile up nvidia-smi processes.
    if (inFlight || deviceError?.endsWith('not found')) return;
    inFlight = queryDevice().finally(() => {
      inFlight = undefined;
    });
  };
  // The first compute-apps query after the card's starting reading, so that reading comes first.
  inFlight = cardBefore
    .then(() => queryDevice())
    .finally(() => {
      inFlight = undefined;
    });
  const timer = setInterval(pollDevice, intervalMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      if (inFlight) await inFlight;
      if (deviceSamples === 0 && !deviceError) {
        // The phase was shorter than one query: ask once now.
        await queryDevice();
      }
      if (deviceMax !== undefined) {
        return [
          {
            metric: 'device',
            bytes: deviceMax,
            source: `nvidia-smi --query-compute-apps (the case's process) every ${intervalMs} ms`,
            readings: deviceSamples,
            reliable: deviceSamples >= 2,
            note: 'max of samples of the memory the driver attributes to this process',
            method: 'driver-process',
          },
        ];
      }
      const why =
        deviceError ??
        `nvidia-smi lists no compute process with pid ${pid} (no GPU context, or a PID namespace hides it)`;
      const before = await cardBefore;
      if (before !== undefined && cardMax !== undefined) {
        return [
          {
            metric: 'device-total',
            bytes: Math.max(0, cardMax - before),
            source: `nvidia-smi --query-gpu=memory.used (the whole card) every ${intervalMs} ms: the phase's peak minus the reading as it started`,
            readings: cardSamples,
            reliable: false,
            // No pid in the note: every repeat of the case cites the same footnote.
            note: `a before/during delta of the whole card: every process's allocations in the phase count, and what the phase allocated before the first reading does not; per-process figure unavailable: ${deviceError ?? "nvidia-smi does not list the case's process"}`,
            method: 'card-total',
          },
        ];
      }
      const total = await deviceTotal();
      if (!total) return { metric: 'device', reason: `${why}; systeminformation reports no device memory either` };
      return [
        {
          metric: 'device-total',
          bytes: total.used,
          source: `systeminformation graphics() ${total.model} memoryUsed`,
          reliable: false,
          note: `whole device, every process, read at phase end; per-process figure unavailable: ${why}`,
          method: 'card-total',
        },
      ];
    },
  };
}

async function deviceTotal(): Promise<{ used: number; model: string } | undefined> {
  try {
    const si = await import('systeminformation');
    const g = await si.graphics();
    const c = g.controllers.find((x) => typeof x.memoryUsed === 'number' && x.memoryUsed > 0);
    return c ? { used: c.memoryUsed! * 2 ** 20, model: c.model } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A phase's figures with the backend's own: its `backend` figure, and its device counter as the
 * `device` figure (method `backend-counter`) where the driver gave no per-process figure, which is
 * measured from outside the runtime and so preferred.
 */
export function withBackendMemory(figures: MemoryFigure[], m: BackendMemory | undefined): MemoryFigure[] {
  if (!m) return figures;
  const { device, ...own } = m;
  const out = [...figures, { metric: 'backend', ...own }];
  if (device && !figures.some((f) => f.metric === 'device')) {
    out.push({
      metric: 'device',
      ...device,
      method: 'backend-counter',
      note: 'bytes the runtime counts on the device after the round, not a sampled peak',
    });
  }
  return out;
}
