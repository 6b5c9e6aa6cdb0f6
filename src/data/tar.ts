/**
 * Reads regular files out of a `.tar` or `.tar.gz` archive as a stream (zlib + tar-stream), keeping
 * in memory only the entries (or the leading bytes of entries) the caller asks for, so an archive
 * never has to be extracted to disk to be used.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { DataError } from '../errors.ts';

/** A regular file read from an archive. */
export interface TarFile {
  /** Path inside the archive, without a leading `./`. */
  path: string;
  /** Size recorded in the archive's header. */
  size: number;
  /** The bytes kept: the whole file, or its first `limit` bytes when the selector asked for fewer. */
  data: Buffer;
}

/**
 * What to keep of an entry: `false` to skip it, `true` for all of it, or a byte count to keep only
 * the file's first bytes (the rest is read past, not stored).
 */
export type TarSelector = (path: string, size: number) => boolean | number;

/** True when the file starts with the gzip magic bytes. */
async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Normalises an archive path: forward slashes, no leading `./` or `/`. */
export function cleanTarPath(p: string): string {
  return p
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '');
}

/**
 * Streams `file` (gzip-compressed or plain tar, detected by magic bytes) and returns the regular
 * files `select` keeps, in archive order. Errors (a truncated download, a file that is not an
 * archive) become a {@link DataError} naming the archive.
 */
export async function readTar(
  file: string,
  select: TarSelector,
  opts: { signal?: AbortSignal } = {},
): Promise<TarFile[]> {
  const gz = await isGzip(file);
  const ex = extract();
  const source: Readable = createReadStream(file);
  const middle = gz ? createGunzip() : new PassThrough();
  // The pipeline is driven by the entry loop below; its promise is awaited afterwards, with a
  // handler attached now so a failure while the loop is still running is not reported as unhandled.
  const piped = pipeline(source, middle, ex, opts.signal ? { signal: opts.signal } : {});
  let pipeError: unknown;
  piped.catch((e: unknown) => {
    pipeError = e;
  });
  const out: TarFile[] = [];
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const type = h.type ?? 'file';
      const size = h.size ?? 0;
      const path = cleanTarPath(h.name);
      const want = type === 'file' || type === 'contiguous-file' ? select(path, size) : false;
      if (want === false || (typeof want === 'number' && want <= 0)) {
        entry.resume();
        continue;
      }
      const limit = want === true ? size : Math.min(size, want);
      const data = Buffer.allocUnsafe(limit);
      let got = 0;
      for await (const chunk of entry) {
        const c = chunk as Buffer;
        if (got < limit) {
          const n = Math.min(c.length, limit - got);
          c.copy(data, got, 0, n);
          got += n;
        }
      }
      if (got < limit) throw new Error(`entry ${path} ended after ${got} of ${size} bytes`);
      out.push({ path, size, data });
    }
    await piped;
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? e;
    const cause = pipeError ?? e;
    const msg = cause instanceof Error ? cause.message : String(cause);
    throw new DataError(`${file}: cannot read the archive: ${msg}`, {
      cause,
      hint: gz
        ? 'the .tar.gz is truncated or corrupt; download it again (or extract it and point to the folder)'
        : 'the file is not a tar or .tar.gz archive; point to the extracted folder or the original archive',
    });
  }
  return out;
}
