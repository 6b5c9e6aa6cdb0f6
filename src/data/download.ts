/**
 * Downloads the official CIFAR-10 binary release into a data folder, safely:
 * - the archive is written to `cifar-10-binary.tar.gz.part` in the target folder, and a partial
 *   `.part` left by an interrupted run is resumed with an HTTP `Range` request when the server
 *   honours it (a `206` whose `Content-Range` starts where the file ends), otherwise restarted;
 * - a cut connection is retried a bounded number of times, each retry resuming;
 * - the whole file is checked against the published MD5 (or a given SHA-256); on a mismatch the
 *   `.part` is deleted and nothing is left behind;
 * - it is extracted into a temporary folder beside the target, checked, and renamed into place,
 *   so `cifar-10-batches-bin/` either appears complete or not at all;
 * - one download per folder at a time (a lock file), progress reported through a callback.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import lockfile from 'proper-lockfile';
import { extract } from 'tar-stream';
import { DataError } from '../errors.ts';
import { CIFAR10_RECORD, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from './cifar10.ts';
import { CIFAR10_ARCHIVE, CIFAR10_FOLDER, cacheDir, DATA_ENV } from './locate.ts';
import { cleanTarPath } from './tar.ts';

/** The official archive. */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
/** The MD5 published on the CIFAR-10 page for the binary version. */
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

export interface DownloadProgress {
  phase: 'download' | 'verify' | 'extract' | 'done';
  /** Bytes of the archive on disk so far (including a resumed part). */
  received: number;
  /** Size of the archive when the server said, else null. */
  total: number | null;
  /** `received / total * 100`, or null when the total is unknown. */
  percent: number | null;
  /** Transfer rate of the current attempt (bytes/s); 0 outside the download phase. */
  bytesPerSecond: number;
  /** Bytes already on disk when the current attempt started (resume point), 0 for a fresh start. */
  resumedFrom: number;
  /** 1-based attempt number. */
  attempt: number;
}

export interface DownloadCifar10Options {
  /** Target folder; default `$EXPBENCH_DATA`, else the per-user cache folder. Created if needed. */
  dir?: string;
  /** Archive URL (a mirror of the official file); default {@link CIFAR10_URL}. */
  url?: string;
  /** Expected SHA-256 (hex); when given it replaces the MD5 check. */
  sha256?: string;
  /** Expected MD5 (hex); default {@link CIFAR10_MD5}. */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** The fetch to use (default the global one). */
  fetchImpl?: typeof fetch;
  signal?: AbortSignal;
  /** Retries after a failed attempt (cut connection, 5xx), each resuming. @default 3 */
  retries?: number;
  /** Delay before retry `k` is `k * retryDelayMs`. @default 1000 */
  retryDelayMs?: number;
  /** Download again even when the extracted folder is already there. @default false */
  force?: boolean;
  /** Keep `cifar-10-binary.tar.gz` beside the extracted folder. @default false */
  keepArchive?: boolean;
  /** Minimum milliseconds between download progress callbacks. @default 200 */
  progressIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DownloadResult {
  /** The folder downloaded into. */
  dir: string;
  /** The extracted `cifar-10-batches-bin` folder. */
  folder: string;
  /** True when the folder was already complete and nothing was fetched. */
  alreadyPresent: boolean;
  /** Archive size in bytes (0 when already present). */
  archiveBytes: number;
  /** Byte at which the request that completed the file started: 0 when it fetched the whole file. */
  resumedFrom: number;
  attempts: number;
  seconds: number;
  checksum: { algorithm: 'md5' | 'sha256'; value: string } | null;
}

/** The folder `downloadCifar10` uses when given none. */
export function defaultDownloadDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[DATA_ENV] ? resolve(env[DATA_ENV]) : cacheDir(env);
}

/** An attempt failed in a way another attempt may fix (cut connection, server error). */
class RetryableError extends Error {}

const REQUIRED_FILES = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];

/** Problems with an extracted batches folder, or an empty list when it is complete. */
export async function checkCifar10Folder(folder: string): Promise<string[]> {
  const problems: string[] = [];
  for (const f of REQUIRED_FILES) {
    const s = await stat(join(folder, f)).catch(() => null);
    if (!s?.isFile()) problems.push(`${f} is missing`);
    else if (s.size === 0 || s.size % CIFAR10_RECORD !== 0)
      problems.push(`${f} has ${s.size} bytes, not a whole number of ${CIFAR10_RECORD}-byte records`);
  }
  return problems;
}

async function fileSize(p: string): Promise<number> {
  const s = await stat(p).catch(() => null);
  return s?.isFile() ? s.size : 0;
}

async function hashFile(p: string, algorithm: 'md5' | 'sha256', signal?: AbortSignal): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(p), h, signal ? { signal } : {});
  return h.digest('hex');
}

/** Parses `Content-Range: bytes a-b/total`. */
function parseContentRange(v: string | null): { start: number; total: number | null } | null {
  const m = v ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim()) : null;
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) };
}

interface AttemptContext {
  url: string;
  part: string;
  fetchImpl: typeof fetch;
  signal?: AbortSignal;
  attempt: number;
  intervalMs: number;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * One HTTP request: resumes `part` when it has bytes and the server honours the range, else
 * (re)starts it. Returns the resume point used, or `'range-not-satisfiable'` when the server says
 * the part already holds the whole file.
 */
async function attemptDownload(ctx: AttemptContext): Promise<number | 'range-not-satisfiable'> {
  let start = await fileSize(ctx.part);
  const headers: Record<string, string> = {};
  if (start > 0) headers.Range = `bytes=${start}-`;
  let res: Response;
  try {
    res = await ctx.fetchImpl(ctx.url, { headers, redirect: 'follow', ...(ctx.signal ? { signal: ctx.signal } : {}) });
  } catch (e) {
    if (ctx.signal?.aborted) throw e;
    throw new RetryableError(`cannot connect: ${describe(e)}`);
  }
  let total: number | null = null;
  let append = false;
  if (start > 0 && res.status === 416) {
    await res.body?.cancel().catch(() => {});
    return 'range-not-satisfiable';
  }
  if (start > 0 && res.status === 206) {
    const range = parseContentRange(res.headers.get('content-range'));
    if (!range || range.start !== start) {
      // The server sent some other range: throw the part away and start over on the next attempt.
      await res.body?.cancel().catch(() => {});
      await unlink(ctx.part).catch(() => {});
      throw new RetryableError(
        `server answered the range request from byte ${start} with Content-Range ${res.headers.get('content-range') ?? '(none)'}`,
      );
    }
    total = range.total;
    append = true;
  } else if (res.status === 200) {
    // No range support (or no part): the body is the whole file, so the part restarts from zero.
    start = 0;
    const len = res.headers.get('content-length');
    total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  } else {
    await res.body?.cancel().catch(() => {});
    const msg = `HTTP ${res.status} ${res.statusText} from ${ctx.url}`;
    if (res.status >= 500 || res.status === 429 || res.status === 408) throw new RetryableError(msg);
    throw new DataError(`download failed: ${msg}`, {
      code: 'DOWNLOAD',
      hint: 'check the URL (--url), or try again later',
    });
  }
  if (!res.body) throw new RetryableError(`empty response body from ${ctx.url}`);

  const out = createWriteStream(ctx.part, { flags: append ? 'a' : 'w' });
  const closed = new Promise<void>((ok, fail) => {
    out.once('close', ok);
    out.once('error', fail);
  });
  const t0 = performance.now();
  let got = 0;
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!ctx.onProgress || (!force && now - lastReport < ctx.intervalMs)) return;
    lastReport = now;
    const received = start + got;
    const secs = (now - t0) / 1000;
    ctx.onProgress({
      phase: 'download',
      received,
      total,
      percent: total ? (received / total) * 100 : null,
      bytesPerSecond: secs > 0 ? got / secs : 0,
      resumedFrom: start,
      attempt: ctx.attempt,
    });
  };
  let failure: unknown = null;
  try {
    report(true);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((ok) => out.once('drain', ok));
      got += chunk.byteLength;
      report(false);
    }
  } catch (e) {
    failure = e;
  } finally {
    // Flush what arrived, even after a cut, so the next attempt can resume from it.
    out.end();
    await closed;
  }
  report(true);
  if (failure) {
    if (ctx.signal?.aborted) throw failure;
    throw new RetryableError(
      `connection lost after ${start + got}${total ? ` of ${total}` : ''} bytes: ${describe(failure)}`,
    );
  }
  if (total !== null && start + got !== total) {
    throw new RetryableError(`connection closed after ${start + got} of ${total} bytes`);
  }
  return start;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}

/** Extracts the archive into a temporary folder in `dir`, checks it, and renames it into place. */
async function extractInto(archive: string, dir: string, force: boolean, signal?: AbortSignal): Promise<string> {
  const tmp = await mkdtemp(join(dir, '.cifar-10-extract-'));
  try {
    const ex = extract();
    const piped = pipeline(createReadStream(archive), createGunzip(), ex, signal ? { signal } : {});
    let pipeError: unknown;
    piped.catch((e: unknown) => {
      pipeError = e;
    });
    try {
      for await (const entry of ex) {
        const name = cleanTarPath(entry.header.name);
        const type = entry.header.type ?? 'file';
        const target = resolve(tmp, name);
        // Refuse entries that would land outside the temporary folder ("../", absolute paths).
        if (name.split('/').includes('..') || (target !== tmp && !target.startsWith(tmp + sep))) {
          throw new DataError(`${archive}: unsafe path in archive: ${entry.header.name}`, {
            code: 'DOWNLOAD',
            hint: 'the archive is not the official CIFAR-10 release; check --url',
          });
        }
        if (type === 'directory') {
          await mkdir(target, { recursive: true });
          entry.resume();
        } else if (type === 'file' || type === 'contiguous-file') {
          await mkdir(dirname(target), { recursive: true });
          await pipeline(entry, createWriteStream(target));
        } else {
          entry.resume();
        }
      }
      await piped;
    } catch (e) {
      if (e instanceof DataError || signal?.aborted) throw e;
      throw new DataError(`${archive}: cannot extract: ${describe(pipeError ?? e)}`, {
        code: 'DOWNLOAD',
        cause: e,
        hint: 'the archive is damaged; run the command again to download it afresh',
      });
    }
    const extracted = join(tmp, CIFAR10_FOLDER);
    const problems = await checkCifar10Folder(extracted);
    if (problems.length) {
      throw new DataError(
        `${archive}: not a complete CIFAR-10 binary release: ${problems.join('; ')} (in ${CIFAR10_FOLDER}/)`,
        {
          code: 'DOWNLOAD',
          hint: 'check --url: it must serve cifar-10-binary.tar.gz',
        },
      );
    }
    const folder = join(dir, CIFAR10_FOLDER);
    if (force && (await stat(folder).catch(() => null))) await rename(folder, join(tmp, 'previous'));
    await rename(extracted, folder);
    return folder;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Downloads, verifies and extracts CIFAR-10 (binary version). See the module comment for guarantees. */
export async function downloadCifar10(opts: DownloadCifar10Options = {}): Promise<DownloadResult> {
  const t0 = performance.now();
  const env = opts.env ?? process.env;
  const dir = resolve(opts.dir ?? defaultDownloadDir(env));
  const url = opts.url ?? CIFAR10_URL;
  const fetchImpl = opts.fetchImpl ?? globalThis.fetch;
  const retries = Math.max(0, Math.floor(opts.retries ?? 3));
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const checksum = opts.sha256
    ? { algorithm: 'sha256' as const, value: opts.sha256.toLowerCase() }
    : { algorithm: 'md5' as const, value: (opts.md5 ?? CIFAR10_MD5).toLowerCase() };
  const folder = join(dir, CIFAR10_FOLDER);
  const seconds = () => (performance.now() - t0) / 1000;

  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new DataError(`${dir}: cannot create the data folder: ${describe(e)}`, {
      code: 'DOWNLOAD',
      cause: e,
      hint: 'choose another folder with --dir',
    });
  }
  if (!opts.force && (await checkCifar10Folder(folder)).length === 0) {
    return {
      dir,
      folder,
      alreadyPresent: true,
      archiveBytes: 0,
      resumedFrom: 0,
      attempts: 0,
      seconds: seconds(),
      checksum: null,
    };
  }

  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: join(dir, '.cifar-10-download.lock'),
      realpath: false,
      retries: 0,
    });
  } catch (e) {
    throw new DataError(`${dir}: another CIFAR-10 download into this folder is running (${describe(e)})`, {
      code: 'DOWNLOAD',
      hint: 'wait for it to finish, or use another --dir',
    });
  }
  const part = join(dir, `${CIFAR10_ARCHIVE}.part`);
  try {
    let attempts = 0;
    let resumedFrom = 0;
    let lastError = '';
    let complete = false;
    while (!complete && attempts <= retries) {
      opts.signal?.throwIfAborted();
      if (attempts > 0 && retryDelayMs > 0)
        await sleep(attempts * retryDelayMs, undefined, opts.signal ? { signal: opts.signal } : {});
      attempts++;
      try {
        const r = await attemptDownload({
          url,
          part,
          fetchImpl,
          attempt: attempts,
          intervalMs: opts.progressIntervalMs ?? 200,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        });
        resumedFrom = r === 'range-not-satisfiable' ? await fileSize(part) : r;
        complete = true;
      } catch (e) {
        if (!(e instanceof RetryableError)) throw e;
        lastError = e.message;
      }
    }
    if (!complete) {
      const kept = await fileSize(part);
      throw new DataError(
        `download of ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}`,
        {
          code: 'DOWNLOAD',
          hint:
            kept > 0
              ? `run the command again: it resumes from the ${kept} bytes kept in ${part}`
              : 'check the network and run the command again',
        },
      );
    }

    const size = await fileSize(part);
    opts.onProgress?.({
      phase: 'verify',
      received: size,
      total: size,
      percent: 100,
      bytesPerSecond: 0,
      resumedFrom,
      attempt: attempts,
    });
    const actual = await hashFile(part, checksum.algorithm, opts.signal);
    if (actual !== checksum.value) {
      await unlink(part).catch(() => {});
      throw new DataError(
        `checksum mismatch for ${url}: expected ${checksum.algorithm} ${checksum.value}, got ${actual} (${size} bytes); the downloaded file was deleted`,
        {
          code: 'DOWNLOAD',
          hint: opts.url
            ? 'the mirror serves a different file; use the official URL or give its --sha256'
            : 'run the command again to download afresh',
        },
      );
    }

    opts.onProgress?.({
      phase: 'extract',
      received: size,
      total: size,
      percent: 100,
      bytesPerSecond: 0,
      resumedFrom,
      attempt: attempts,
    });
    let extracted: string;
    try {
      extracted = await extractInto(part, dir, !!opts.force, opts.signal);
    } catch (e) {
      // A verified archive that does not extract is not worth resuming from.
      await unlink(part).catch(() => {});
      throw e;
    }
    if (opts.keepArchive) await rename(part, join(dir, CIFAR10_ARCHIVE));
    else await unlink(part);
    opts.onProgress?.({
      phase: 'done',
      received: size,
      total: size,
      percent: 100,
      bytesPerSecond: 0,
      resumedFrom,
      attempt: attempts,
    });
    return {
      dir,
      folder: extracted,
      alreadyPresent: false,
      archiveBytes: size,
      resumedFrom,
      attempts,
      seconds: seconds(),
      checksum,
    };
  } finally {
    await release().catch(() => {});
  }
}

/** Where a downloaded folder is relative to the working directory, for messages. */
export function displayPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && r.length < p.length ? r : p;
}
