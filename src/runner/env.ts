/**
 * The environment a record was measured in: hardware, OS, Node and the versions of the packages that
 * did the work, plus a stable hardware fingerprint that decides which baseline a run may be compared
 * with. Collected once per process (systeminformation spawns helpers; the answer does not change).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as si from 'systeminformation';
import type { EnvironmentInfo } from './record.ts';

/** Packages whose versions every record carries (those absent here are left out, not guessed). */
export const RELEVANT_PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'onnxruntime-node',
  'onnxruntime-common',
  'onnxruntime-web',
  'webgpu',
  'vitest',
  'systeminformation',
] as const;

/** Display adapters of server management chips and hypervisors: not GPUs anyone benchmarks on. */
const NOT_A_GPU = /aspeed|matrox|cirrus|vmware svga|qxl|virtio|bochs|hyper-v|microsoft basic/i;

export interface CollectOptions {
  /** Folder whose `node_modules` holds the packages. @default the project root of this file */
  projectRoot?: string;
  /** Give up on a slow probe after this many ms. @default 8000 */
  timeoutMs?: number;
}

let cached: Promise<EnvironmentInfo> | undefined;

/**
 * The environment of this process, collected once (later calls return the same promise). A probe that
 * fails or times out leaves its field out rather than inventing a value.
 */
export function collectEnvironment(opts: CollectOptions = {}): Promise<EnvironmentInfo> {
  cached ??= collect(opts);
  return cached;
}

/** Hardware parts the fingerprint is computed from. */
export interface FingerprintParts {
  cpu: string;
  cores: number;
  memoryBytes: number;
  gpu?: string;
}

/**
 * Stable hash of the hardware: CPU model, logical cores, total memory rounded to whole GiB (the
 * kernel's reservations move the exact figure between boots) and GPU model. 16 hex digits.
 */
export function fingerprintOf(p: FingerprintParts): string {
  const canonical = JSON.stringify({
    cpu: p.cpu.trim().replace(/\s+/g, ' '),
    cores: p.cores,
    memoryGiB: Math.round(p.memoryBytes / 2 ** 30),
    gpu: p.gpu?.trim().replace(/\s+/g, ' ') ?? null,
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** One line naming the hardware, for messages: `AMD EPYC, 2 cores, 24 GiB` (+ `, <GPU>`). */
export function describeMachine(env: Pick<EnvironmentInfo, 'cpu' | 'cores' | 'memoryBytes' | 'gpu'>): string {
  const gib = Math.round(env.memoryBytes / 2 ** 30);
  return `${env.cpu}, ${env.cores} cores, ${gib} GiB${env.gpu ? `, ${env.gpu}` : ''}`;
}

/** Parses `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmiGpus(stdout: string): { name: string; driver: string; memoryMiB: number }[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [name = '', driver = '', mem = ''] = l.split(',').map((s) => s.trim());
      return { name, driver, memoryMiB: Number(mem) };
    })
    .filter((g) => g.name.length > 0);
}

async function collect(opts: CollectOptions): Promise<EnvironmentInfo> {
  const timeoutMs = opts.timeoutMs ?? 8000;
  const root = opts.projectRoot ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const [cpu, mem, osInfo, graphics, smi, packages] = await Promise.all([
    withTimeout(si.cpu(), timeoutMs),
    withTimeout(si.mem(), timeoutMs),
    withTimeout(si.osInfo(), timeoutMs),
    withTimeout(si.graphics(), timeoutMs),
    nvidiaSmi(timeoutMs),
    packageVersions(root),
  ]);

  const cpuName = (cpu ? joinVendor(cpu.manufacturer, cpu.brand) : '') || 'unknown CPU';
  const cores = cpu?.cores ?? 0;
  const memoryBytes = mem?.total ?? 0;
  let gpu: string | undefined;
  let driver: string | undefined;
  if (smi && smi.length > 0) {
    // Several identical cards are one model; mixed cards are listed in order.
    const names = [...new Set(smi.map((g) => g.name))];
    gpu = smi.length > 1 ? `${smi.length}× ${names.join(' + ')}` : names[0];
    driver = smi[0]!.driver;
  } else {
    const c = graphics?.controllers.find((g) => g.model && !NOT_A_GPU.test(`${g.vendor} ${g.model}`));
    if (c) {
      gpu = joinVendor(c.vendor, c.model);
      driver = c.driverVersion || undefined;
    }
  }
  const os = osInfo
    ? `${osInfo.distro} ${osInfo.release} (${osInfo.platform} ${osInfo.kernel}, ${osInfo.arch})`.replace(/\s+/g, ' ')
    : `${process.platform} ${process.arch}`;

  const info: EnvironmentInfo = {
    os,
    cpu: cpuName,
    cores,
    memoryBytes,
    node: process.version,
    packages,
    fingerprint: fingerprintOf({ cpu: cpuName, cores, memoryBytes, gpu }),
    hostname: osHostname(),
  };
  if (gpu) info.gpu = gpu;
  if (driver) info.driver = driver;
  return info;
}

/** Versions of {@link RELEVANT_PACKAGES} installed under `root/node_modules`, and expbench's own. */
export async function packageVersions(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const read = async (file: string) => {
    try {
      const pkg = JSON.parse(await readFile(file, 'utf8')) as { name?: string; version?: string };
      return pkg.version;
    } catch {
      return undefined;
    }
  };
  const own = await read(join(root, 'package.json'));
  if (own) out.expbench = own;
  await Promise.all(
    RELEVANT_PACKAGES.map(async (name) => {
      const v = await read(join(root, 'node_modules', name, 'package.json'));
      if (v) out[name] = v;
    }),
  );
  // Stable key order, so records diff cleanly.
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

function nvidiaSmi(timeoutMs: number): Promise<{ name: string; driver: string; memoryMiB: number }[] | undefined> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits'],
      { timeout: timeoutMs, windowsHide: true },
      (err, stdout) => resolve(err ? undefined : parseNvidiaSmiGpus(stdout)),
    );
  });
}

/** `AMD` + `EPYC` → `AMD EPYC`, without doubling a vendor the model already names. */
function joinVendor(vendor: string, model: string): string {
  const v = vendor.trim();
  const m = model.trim();
  if (!v) return m;
  if (!m) return v;
  return m.toLowerCase().startsWith(v.toLowerCase()) ? m : `${v} ${m}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p.catch(() => undefined), t]).finally(() => clearTimeout(timer));
}
