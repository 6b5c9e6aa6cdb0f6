import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDataCommand } from '../../src/cli/data-command.ts';
import { downloadCifar10, type DownloadProgress } from '../../src/data/download.ts';
import { loadDataset } from '../../src/data/index.ts';
import { DataError } from '../../src/errors.ts';
import { cifarFiles, cifarLabel, makeTar, tempDir } from './fixtures.ts';

interface ServeOptions {
  /** Honour `Range: bytes=N-` with 206 responses. */
  ranges: boolean;
  /** Cut the connection of this many first requests after `cutAt` body bytes. */
  cuts?: number;
  cutAt?: number;
  status?: number;
  /** Serve these bytes instead of the fixture archive. */
  body?: Buffer;
}

interface Served {
  url: string;
  requests: { range: string | undefined; status: number }[];
  close(): Promise<void>;
}

let archive: Buffer;
// Set once in beforeAll and never changed.
let sha256: string;
let md5: string;

beforeAll(async () => {
  // A fixture release: the official layout, a few records per batch, random-ish bytes so gzip
  // cannot shrink it to nothing (the cut-connection tests need a body of some length).
  const files = cifarFiles([40, 40, 40, 40, 40], 40);
  archive = await makeTar(files.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })));
  sha256 = createHash('sha256').update(archive).digest('hex');
  md5 = createHash('md5').update(archive).digest('hex');
});

async function serve(opts: ServeOptions): Promise<Served> {
  const requests: Served['requests'] = [];
  let cutsLeft = opts.cuts ?? 0;
  const server: Server = createServer((req, res) => {
    const range = req.headers.range;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const file = opts.body ?? archive;
    const total = file.length;
    if (opts.status) {
      requests.push({ range, status: opts.status });
      res.writeHead(opts.status).end('nope');
      return;
    }
    let start = 0;
    let status = 200;
    if (opts.ranges && m) {
      start = Number(m[1]);
      if (start >= total) {
        requests.push({ range, status: 416 });
        res.writeHead(416, { 'Content-Range': `bytes */${total}` }).end();
        return;
      }
      status = 206;
    }
    const body = file.subarray(start);
    requests.push({ range, status });
    res.writeHead(status, {
      'Content-Type': 'application/gzip',
      'Content-Length': String(body.length),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${total - 1}/${total}` } : {}),
      ...(opts.ranges ? { 'Accept-Ranges': 'bytes' } : {}),
    });
    if (cutsLeft > 0) {
      cutsLeft--;
      // Send part of the body, then drop the connection as a flaky network would.
      res.write(body.subarray(0, opts.cutAt ?? Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

let dir: string;
let cleanup: () => Promise<void>;
let server: Served | null = null;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('expbench-dl-'));
});
afterEach(async () => {
  await server?.close();
  server = null;
  await cleanup();
});

const target = () => join(dir, 'data');
const listing = async () => (await readdir(target())).sort();

describe('downloadCifar10 against a local HTTP server', () => {
  it('downloads, verifies, extracts atomically, reports progress, and the loader reads the result', async () => {
    server = await serve({ ranges: true });
    const events: DownloadProgress[] = [];
    const r = await downloadCifar10({
      dir: target(),
      url: server.url,
      sha256,
      retryDelayMs: 0,
      onProgress: (p) => events.push(p),
      progressIntervalMs: 0,
    });
    expect(r.alreadyPresent).toBe(false);
    expect(r.archiveBytes).toBe(archive.length);
    expect(r.attempts).toBe(1);
    expect(r.checksum).toEqual({ algorithm: 'sha256', value: sha256 });
    // Only the extracted folder is left: no .part, no temporary folder, no lock.
    expect(await listing()).toEqual(['cifar-10-batches-bin']);
    expect((await stat(join(r.folder, 'data_batch_5.bin'))).size).toBe(40 * 3073);
    const dl = events.filter((e) => e.phase === 'download');
    expect(dl.at(-1)!.received).toBe(archive.length);
    expect(dl.at(-1)!.percent).toBe(100);
    expect(dl.at(-1)!.total).toBe(archive.length);
    expect(dl.every((e) => e.bytesPerSecond >= 0)).toBe(true);
    expect(events.map((e) => e.phase).filter((p) => p !== 'download')).toEqual(['verify', 'extract', 'done']);

    const ds = await loadDataset(
      { kind: 'cifar10', train: 200, test: 40 },
      { baseDir: dir, env: { EXPBENCH_DATA: target() } },
    );
    expect(ds.train.labels[199]).toBe(cifarLabel(199));

    // Already there: nothing is fetched.
    const again = await downloadCifar10({ dir: target(), url: server.url, sha256 });
    expect(again.alreadyPresent).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('checks the MD5 by default and leaves nothing behind on a mismatch', async () => {
    server = await serve({ ranges: true });
    // The default checksum is the official archive's MD5, which the fixture does not have.
    const err = await downloadCifar10({ dir: target(), url: server.url, retryDelayMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('DOWNLOAD');
    expect((err as DataError).message).toMatch(
      /checksum mismatch .* expected md5 c32a1d4ab5d03f1284b67883e8d87530, got [0-9a-f]{32}/,
    );
    expect((err as DataError).message).toContain('deleted');
    expect(await listing()).toEqual([]);
    // With the right MD5 the same download succeeds.
    const ok = await downloadCifar10({ dir: target(), url: server.url, md5, retryDelayMs: 0 });
    expect(ok.checksum).toEqual({ algorithm: 'md5', value: md5 });
  });

  it('a connection cut mid-way is resumed with a Range request in the next attempt', async () => {
    server = await serve({ ranges: true, cuts: 1 });
    const cutAt = Math.floor(archive.length / 2);
    const r = await downloadCifar10({ dir: target(), url: server.url, sha256, retryDelayMs: 0 });
    expect(r.attempts).toBe(2);
    expect(r.resumedFrom).toBe(cutAt);
    expect(server.requests).toEqual([
      { range: undefined, status: 200 },
      { range: `bytes=${cutAt}-`, status: 206 },
    ]);
    expect(await listing()).toEqual(['cifar-10-batches-bin']);
  });

  it('with no retries left, the .part is kept and the next run resumes it', async () => {
    server = await serve({ ranges: true, cuts: 1, cutAt: 1000 });
    const err = await downloadCifar10({ dir: target(), url: server.url, sha256, retries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toMatch(
      /failed after 1 attempt: connection (lost|closed) after 1000 of \d+ bytes/,
    );
    expect((err as DataError).hint).toMatch(/resumes from the 1000 bytes/);
    expect(await listing()).toEqual(['cifar-10-binary.tar.gz.part']);
    const r = await downloadCifar10({ dir: target(), url: server.url, sha256, retries: 0 });
    expect(r.resumedFrom).toBe(1000);
    expect(server.requests.map((q) => q.range)).toEqual([undefined, 'bytes=1000-']);
    expect(await listing()).toEqual(['cifar-10-batches-bin']);
  });

  it('restarts from zero when the server ignores Range', async () => {
    server = await serve({ ranges: false, cuts: 1 });
    const r = await downloadCifar10({ dir: target(), url: server.url, sha256, retryDelayMs: 0 });
    expect(r.resumedFrom).toBe(0);
    expect(server.requests.map((q) => q.status)).toEqual([200, 200]);
    expect(server.requests[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(await listing()).toEqual(['cifar-10-batches-bin']);
  });

  it('a complete .part left behind (416 on resume) is verified and used', async () => {
    server = await serve({ ranges: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(target(), { recursive: true });
    await writeFile(join(target(), 'cifar-10-binary.tar.gz.part'), archive);
    const r = await downloadCifar10({ dir: target(), url: server.url, sha256 });
    expect(server.requests).toEqual([{ range: `bytes=${archive.length}-`, status: 416 }]);
    expect(r.folder).toBe(join(target(), 'cifar-10-batches-bin'));
  });

  it('HTTP 404 fails at once with a DOWNLOAD error', async () => {
    server = await serve({ ranges: true, status: 404 });
    const err = await downloadCifar10({ dir: target(), url: server.url, sha256, retryDelayMs: 0 }).catch(
      (e: unknown) => e,
    );
    expect((err as DataError).code).toBe('DOWNLOAD');
    expect((err as DataError).message).toContain('HTTP 404');
    expect(server.requests).toHaveLength(1);
    expect(await listing()).toEqual([]);
  });

  it('an archive that verifies but is not CIFAR-10 leaves nothing behind', async () => {
    const other = await makeTar([{ name: 'something/else.txt', data: Buffer.from('hi') }]);
    server = await serve({ ranges: true, body: other });
    const err = await downloadCifar10({
      dir: target(),
      url: server.url,
      sha256: createHash('sha256').update(other).digest('hex'),
    }).catch((e: unknown) => e);
    expect((err as DataError).message).toMatch(/not a complete CIFAR-10 binary release: data_batch_1\.bin is missing/);
    expect(await listing()).toEqual([]);
  });
});

describe('expbench data command', () => {
  function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
    let out = '';
    const stream = new Writable({
      write(chunk, _enc, cb) {
        out += String(chunk);
        cb();
      },
    });
    return { stream, text: () => out };
  }

  it('prints progress to stderr and returns 0, then says it is already there', async () => {
    server = await serve({ ranges: true, cuts: 1 });
    const err = capture();
    const code = await runDataCommand(
      { dataset: 'cifar10', dir: target(), url: server.url, sha256 },
      { stderr: err.stream, env: {}, retryDelayMs: 0 },
    );
    expect(code).toBe(0);
    const text = err.text();
    if (process.env.SHOW_CLI_OUTPUT) console.log(text);
    expect(text).toMatch(/\d+\.\d kB \/ \d+\.\d kB \(100\.0%\) [\d.]+ (B|kB|MB)\/s, resumed at \d+\.\d kB, attempt 2/);
    expect(text).toContain('verifying sha256');
    expect(text).toContain(`CIFAR-10 ready in ${join(target(), 'cifar-10-batches-bin')}`);
    expect(text).toContain(`EXPBENCH_DATA=${target()}`);
    const again = capture();
    expect(
      await runDataCommand(
        { dataset: 'cifar10', dir: target(), url: server.url, sha256 },
        { stderr: again.stream, env: {} },
      ),
    ).toBe(0);
    expect(again.text()).toContain('already in');
  });

  it('returns 1 with the message and hint on a checksum mismatch, 2 for an unknown dataset', async () => {
    server = await serve({ ranges: true });
    const err = capture();
    expect(
      await runDataCommand(
        { dataset: 'cifar10', dir: target(), url: server.url },
        { stderr: err.stream, env: {}, retryDelayMs: 0 },
      ),
    ).toBe(1);
    expect(err.text()).toMatch(/error: checksum mismatch/);
    expect(err.text()).toMatch(/hint: /);
    expect(err.text()).not.toMatch(/\n\s+at /);
    const usage = capture();
    expect(await runDataCommand({ dataset: 'mnist' }, { stderr: usage.stream, env: {} })).toBe(2);
    expect(usage.text()).toContain('unknown dataset "mnist" (available: cifar10)');
  });
});
