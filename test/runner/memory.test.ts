import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseCardUsed, parseComputeApps, parseProcStatus, startMemorySampler } from '../../src/runner/memory.ts';
import { peakFigures } from '../../src/runner/record.ts';
import { Footnotes, memoryText } from '../../src/reporters/markdown-cells.ts';

const MiB = 2 ** 20;
// A full collection between phases, so the test controls what is resident (large buffers are unmapped).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const linux = process.platform === 'linux';

/** Whether this kernel lets a process reset its own peak-RSS mark (checked independently of the sampler). */
function canResetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Allocates and touches `mib` MiB so they become resident, and lets them go. */
function spike(mib: number): number {
  const b = Buffer.alloc(mib * MiB, 1);
  let s = 0;
  for (let i = 0; i < b.length; i += 4096) s += b[i]!;
  return s;
}

describe('peakFigures', () => {
  it('keeps, per metric (whatever the source), the figure with the most bytes and how many it is the worst of', () => {
    const fig = (metric: string, source: string, bytes: number) => ({ metric, source, bytes, reliable: true });
    const round1 = [fig('peak-rss', 'VmHWM', 5 * MiB), fig('heap-used', 'sampled', 2 * MiB)];
    const round2 = [
      fig('heap-used', 'sampled', 3 * MiB),
      fig('peak-rss', 'VmHWM', 4 * MiB),
      fig('peak-rss', 'VmRSS', MiB),
    ];
    expect(peakFigures([round1, round2])).toEqual([
      { ...fig('peak-rss', 'VmHWM', 5 * MiB), measurements: 3 },
      { ...fig('heap-used', 'sampled', 3 * MiB), measurements: 2 },
    ]);
    expect(peakFigures([])).toEqual([]);
  });
});

describe('parsers', () => {
  it('reads VmHWM and VmRSS in bytes', () => {
    const text = 'Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t  333740 kB\nVmRSS:\t   42600 kB\n';
    expect(parseProcStatus(text)).toEqual({ hwm: 333740 * 1024, rss: 42600 * 1024 });
    expect(parseProcStatus('nothing')).toEqual({});
  });
  it('attributes nvidia-smi compute-app memory to a pid, summed over GPUs, absent when unlisted', () => {
    const out = '1234, 512\n999, 2048\n1234, 256\n';
    expect(parseComputeApps(out, 1234)).toBe(768 * MiB);
    expect(parseComputeApps(out, 42)).toBeUndefined();
    expect(parseComputeApps('', 42)).toBeUndefined();
  });
  it('sums the used memory of every card, absent when nvidia-smi gives none', () => {
    expect(parseCardUsed('1000\n24\n')).toBe(1024 * MiB);
    expect(parseCardUsed('')).toBeUndefined();
    expect(parseCardUsed('[N/A]\n')).toBeUndefined();
  });
});

describe.runIf(linux)('peak resident set on Linux', () => {
  it('resets the high-water mark per phase, so a second phase does not inherit the first one’s peak', async () => {
    const resettable = canResetPeak();
    const a = startMemorySampler({ device: false });
    spike(96);
    const figA = await a.stop();
    gc();
    const b = startMemorySampler({ device: false });
    spike(4);
    const figB = await b.stop();
    const peakA = figA.find((f) => f.metric === 'peak-rss')!;
    const peakB = figB.find((f) => f.metric === 'peak-rss')!;
    if (resettable) {
      expect(peakA.reliable).toBe(true);
      expect(peakA.source).toMatch(/VmHWM \(reset via clear_refs/);
      expect(peakB.reliable).toBe(true);
      // The 96 MiB of phase A are gone from phase B's figure.
      expect(peakA.bytes - peakB.bytes).toBeGreaterThan(60 * MiB);
    } else {
      expect(peakA.source).toMatch(/high-water|sampled/);
      expect(peakB.reliable).toBe(false);
    }
    expect(peakA.bytes).toBeGreaterThan(96 * MiB);
  });

  it('without a reset, a phase that raises the mark still gets the exact peak; one that does not is sampled and unreliable', async () => {
    const high = startMemorySampler({ device: false, resetPeak: false });
    spike(160);
    const [peak] = (await high.stop()).filter((f) => f.metric === 'peak-rss');
    gc();
    expect(peak!.source).toMatch(/raised the process's high-water mark/);
    expect(peak!.reliable).toBe(true);

    const low = startMemorySampler({ device: false, resetPeak: false, intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 30));
    const [sampled] = (await low.stop()).filter((f) => f.metric === 'peak-rss');
    expect(sampled!.reliable).toBe(false);
    expect(sampled!.source).toBe('VmRSS sampled every 5 ms');
    expect(sampled!.readings).toBeGreaterThan(0);
    expect(sampled!.note).toMatch(/spikes between samples/);
  });
});

describe('heap figures and device memory', () => {
  it('reports heap, external and array-buffer peaks with their source', async () => {
    const s = startMemorySampler({ device: false, intervalMs: 5 });
    const keep = new Float32Array(8 * MiB); // 32 MiB of array buffer
    keep[0] = 1;
    s.sample();
    const figs = await s.stop();
    const ab = figs.find((f) => f.metric === 'array-buffers')!;
    expect(ab.bytes).toBeGreaterThanOrEqual(32 * MiB);
    expect(ab.source).toMatch(/process\.memoryUsage\(\)/);
    expect(figs.map((f) => f.metric)).toEqual(expect.arrayContaining(['heap-used', 'external', 'array-buffers']));
    expect(s.absent).toEqual([{ metric: 'device', reason: 'device memory not requested' }]);
    expect(keep[0]).toBe(1);
  });

  it('a missing nvidia-smi is reported absent, never as zero', async () => {
    const s = startMemorySampler({ nvidiaSmi: '/nonexistent/nvidia-smi' });
    const figs = await s.stop();
    expect(figs.some((f) => f.metric === 'device')).toBe(false);
    const absent = s.absent.find((a) => a.metric === 'device');
    // With no per-process source, a device-wide figure may stand in, marked unreliable.
    const total = figs.find((f) => f.metric === 'device-total');
    if (total) expect(total.reliable).toBe(false);
    else expect(absent?.reason).toMatch(/nvidia-smi not found/);
  });

  it.runIf(process.platform !== 'win32')('reads this process’s device memory from nvidia-smi output', async () => {
    // An executable that answers the query the way nvidia-smi does, so the spawn-and-parse path runs.
    const dir = mkdtempSync(join(tmpdir(), 'expbench-smi-'));
    const exe = join(dir, 'nvidia-smi');
    writeFileSync(exe, `#!/bin/sh\necho "1, 100"\necho "${process.pid}, 640"\n`);
    chmodSync(exe, 0o755);
    const s = startMemorySampler({ nvidiaSmi: exe, deviceIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 120));
    const dev = (await s.stop()).find((f) => f.metric === 'device')!;
    expect(dev.bytes).toBe(640 * MiB);
    // The source names the method, never a pid or a reading count, so every run cites the same source.
    expect(dev.source).toBe("nvidia-smi --query-compute-apps (the case's process) every 20 ms");
    expect(dev.readings).toBeGreaterThanOrEqual(2);
    expect(dev.reliable).toBe(true);
  });

  it.runIf(process.platform !== 'win32')(
    'where nvidia-smi does not list this process, reports the whole card as a before/during delta, marked as such',
    async () => {
      // A stand-in whose card reads 1000 MiB at the first whole-card query (the phase start) and 1600 MiB
      // after, and whose compute apps list another process only (as a Vulkan process may be missing).
      const dir = mkdtempSync(join(tmpdir(), 'expbench-smi-'));
      const exe = join(dir, 'nvidia-smi');
      const calls = join(dir, 'card-calls');
      writeFileSync(
        exe,
        `#!/bin/sh\ncase "$1" in\n--query-gpu=*) if [ -e ${calls} ]; then echo 1600; else touch ${calls}; echo 1000; fi ;;\n*) echo "1, 100" ;;\nesac\n`,
      );
      chmodSync(exe, 0o755);
      const s = startMemorySampler({ nvidiaSmi: exe, deviceIntervalMs: 20 });
      await new Promise((r) => setTimeout(r, 120));
      const figs = await s.stop();
      expect(figs.some((f) => f.metric === 'device')).toBe(false);
      const total = figs.find((f) => f.metric === 'device-total')!;
      expect(total).toMatchObject({ bytes: 600 * MiB, method: 'card-total', reliable: false });
      expect(total.source).toBe(
        "nvidia-smi --query-gpu=memory.used (the whole card) every 20 ms: the phase's peak minus the reading as it started",
      );
      expect(total.note).toMatch(
        /before\/during delta of the whole card.*nvidia-smi does not list the case's process$/,
      );
      // In the report, the figure's footnote names its source and its method.
      const notes = new Footnotes();
      expect(memoryText(total, notes)).toBe('600 MiB ¹');
      expect(notes.render()).toMatch(/the reading as it started, the whole card, every process; not reliable/);
      expect(total.readings).toBeGreaterThanOrEqual(1);
    },
  );
});
