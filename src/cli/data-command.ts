/**
 * `expbench data <dataset> [--dir <folder>] [--url <mirror>]`: downloads a dataset into the data
 * folder the loaders search (default `$EXPBENCH_DATA`, else the per-user cache), with progress on
 * stderr. Exit status: 0 done (or already there), 1 failed, 2 usage error.
 */
import { resolve } from 'node:path';
import { ExpbenchError } from '../errors.ts';
import { defaultDownloadDir, downloadCifar10, type DownloadProgress } from '../data/download.ts';
import { cacheDir, DATA_ENV } from '../data/locate.ts';

export interface DataCommandArgs {
  dataset: string;
  dir?: string;
  url?: string;
  /** Expected SHA-256 of the archive (for a mirror); default: the official MD5. */
  sha256?: string;
  /** Download again even when the data is already there. */
  force?: boolean;
}

export interface DataCommandIo {
  /** Where progress and messages go. @default process.stderr */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  fetchImpl?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  /** @default 1000 */
  retryDelayMs?: number;
}

const DATASETS = ['cifar10'];

/** Bytes in the largest decimal unit that keeps the figure ≥ 1: `850 B`, `12.3 kB`, `170.5 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${Math.round(bytes)} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
const mb = formatBytes;

/** Formats one progress line: `12.3 MB / 170.5 MB (7.2%) 4.1 MB/s`. */
export function formatProgress(p: DownloadProgress): string {
  const size = p.total ? `${mb(p.received)} / ${mb(p.total)} (${p.percent!.toFixed(1)}%)` : mb(p.received);
  const rate = `${mb(p.bytesPerSecond)}/s`;
  const resumed = p.resumedFrom > 0 ? `, resumed at ${mb(p.resumedFrom)}` : '';
  const attempt = p.attempt > 1 ? `, attempt ${p.attempt}` : '';
  return `${size} ${rate}${resumed}${attempt}`;
}

/** Runs the command; returns the process exit status. */
export async function runDataCommand(argv: DataCommandArgs, io: DataCommandIo = {}): Promise<number> {
  const err = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const say = (line: string) => err.write(`${line}\n`);
  if (!DATASETS.includes(argv.dataset)) {
    say(`expbench data: unknown dataset "${argv.dataset}" (available: ${DATASETS.join(', ')})`);
    return 2;
  }
  const dir = resolve(argv.dir ?? defaultDownloadDir(env));
  const tty = !!err.isTTY;
  let lastDecile = -1;
  let open = false;
  const onProgress = (p: DownloadProgress) => {
    if (p.phase === 'download') {
      if (tty) {
        err.write(`\r  ${formatProgress(p)}\x1b[K`);
        open = true;
      } else {
        // Without a terminal, one line per 10% (or per 10 MB when the size is unknown) keeps logs short.
        const decile = p.percent !== null ? Math.floor(p.percent / 10) : Math.floor(p.received / 1e7);
        if (decile !== lastDecile) {
          lastDecile = decile;
          say(`  ${formatProgress(p)}`);
        }
      }
      return;
    }
    if (open) {
      err.write('\n');
      open = false;
    }
    if (p.phase === 'verify') say(`  verifying ${argv.sha256 ? 'sha256' : 'md5'} of ${mb(p.received)}`);
    if (p.phase === 'extract') say('  extracting');
  };
  say(`expbench data cifar10: ${argv.url ?? 'official archive'} → ${dir}`);
  try {
    const r = await downloadCifar10({
      dir,
      ...(argv.url ? { url: argv.url } : {}),
      ...(argv.sha256 ? { sha256: argv.sha256 } : {}),
      ...(argv.force ? { force: true } : {}),
      ...(io.fetchImpl ? { fetchImpl: io.fetchImpl } : {}),
      ...(io.retryDelayMs !== undefined ? { retryDelayMs: io.retryDelayMs } : {}),
      env,
      onProgress,
    });
    if (open) err.write('\n');
    if (r.alreadyPresent) say(`CIFAR-10 is already in ${r.folder} (use --force to download again).`);
    else
      say(
        `CIFAR-10 ready in ${r.folder} (${mb(r.archiveBytes)} in ${r.seconds.toFixed(1)} s, ${r.checksum!.algorithm} verified).`,
      );
    // The loaders look in $EXPBENCH_DATA and the cache folder; say how to reach any other folder.
    const found = [env[DATA_ENV] ? resolve(env[DATA_ENV]) : null, cacheDir(env)].includes(dir);
    if (!found) say(`Experiments will find it with ${DATA_ENV}=${dir} (or dataset.path: ${dir}).`);
    return 0;
  } catch (e) {
    if (open) err.write('\n');
    if (e instanceof ExpbenchError) {
      say(`error: ${e.message}`);
      if (e.hint) say(`  hint: ${e.hint}`);
      return 1;
    }
    // Anything else (a disk error) is still reported as a message, not a stack trace.
    say(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
