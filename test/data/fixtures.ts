/**
 * Generated data fixtures for the data tests: CIFAR-10-format batch files, image-folder trees in PNG
 * and JPEG, and tar(.gz) archives of either, all written into a temporary folder per test.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { pack } from 'tar-stream';

export const RECORD = 3073;

/** Archive entries get a fixed time so the same files always give the same archive bytes. */
const FIXED_MTIME = new Date(Date.UTC(2020, 0, 1));

/** A fresh temporary folder and its cleanup. */
export async function tempDir(prefix = 'expbench-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The byte every fixture CIFAR record holds at channel `c`, pixel `p` for global example `g`. */
export function cifarPixel(g: number, c: number, p: number): number {
  return (g * 7 + c * 31 + p * 3) & 255;
}

/** The label of global example `g` in the fixture files. */
export function cifarLabel(g: number): number {
  return (g * 3) % 10;
}

/** `n` CIFAR records for global examples `first..first+n-1` (label byte, R plane, G plane, B plane). */
export function cifarRecords(first: number, n: number): Buffer {
  const buf = Buffer.alloc(n * RECORD);
  for (let r = 0; r < n; r++) {
    const g = first + r;
    const o = r * RECORD;
    buf[o] = cifarLabel(g);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) buf[o + 1 + c * 1024 + p] = cifarPixel(g, c, p);
  }
  return buf;
}

export const META_NAMES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * The files of a tiny CIFAR-10 binary release: `perFile[i]` records in `data_batch_{i+1}.bin`
 * (global train indices run on across files), `test` records in `test_batch.bin` (global indices
 * from 100,000 so they differ from train), and optionally `batches.meta.txt`.
 */
export function cifarFiles(
  perFile: number[] = [4, 4, 4, 4, 4],
  test = 5,
  meta = true,
): { name: string; data: Buffer }[] {
  const files: { name: string; data: Buffer }[] = [];
  let g = 0;
  perFile.forEach((n, i) => {
    files.push({ name: `data_batch_${i + 1}.bin`, data: cifarRecords(g, n) });
    g += n;
  });
  files.push({ name: 'test_batch.bin', data: cifarRecords(100_000, test) });
  if (meta) files.push({ name: 'batches.meta.txt', data: Buffer.from(`${META_NAMES.join('\n')}\n\n`) });
  return files;
}

/** Writes files (paths relative to `root`, parents created). */
export async function writeFiles(root: string, files: { name: string; data: Buffer | Uint8Array }[]): Promise<void> {
  for (const f of files) {
    const p = join(root, f.name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, f.data);
  }
}

/** A tar archive (gzip-compressed unless `gzip` is false) of the given files, with directory entries. */
export async function makeTar(files: { name: string; data: Buffer | Uint8Array }[], gzip = true): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((ok, fail) => {
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', ok);
    p.on('error', fail);
  });
  const dirs = new Set<string>();
  for (const f of files) {
    const segs = f.name.split('/');
    for (let i = 1; i < segs.length; i++) {
      const d = `${segs.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        p.entry({ name: d, type: 'directory', mtime: FIXED_MTIME });
      }
    }
    p.entry({ name: f.name, size: f.data.length, mtime: FIXED_MTIME }, Buffer.from(f.data));
  }
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return gzip ? gzipSync(tar) : tar;
}

/** An RGB test image whose colour encodes the class and index, so decoded values can be checked. */
export function fixtureRgb(cls: number, idx: number, w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      // Flat colour per image (JPEG keeps flat areas nearly exact), distinct per class and index.
      data[o] = 20 + cls * 40;
      data[o + 1] = 30 + idx * 20;
      data[o + 2] = 200 - cls * 30;
    }
  }
  return data;
}

export function encodePng(rgb: Uint8Array, w: number, h: number, mode: 'rgb' | 'rgba' | 'gray' = 'rgb'): Buffer {
  const png = new PNG({
    width: w,
    height: h,
    colorType: mode === 'gray' ? 0 : mode === 'rgba' ? 6 : 2,
    inputColorType: 6,
    inputHasAlpha: true,
  });
  for (let i = 0; i < w * h; i++) {
    png.data[i * 4] = rgb[i * 3]!;
    png.data[i * 4 + 1] = rgb[i * 3 + 1]!;
    png.data[i * 4 + 2] = rgb[i * 3 + 2]!;
    png.data[i * 4 + 3] = mode === 'rgba' ? 77 : 255;
  }
  return PNG.sync.write(png, {
    colorType: mode === 'gray' ? 0 : mode === 'rgba' ? 6 : 2,
    inputColorType: 6,
    inputHasAlpha: true,
  });
}

export function encodeJpeg(rgb: Uint8Array, w: number, h: number, quality = 95): Buffer {
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    rgba[i * 4] = rgb[i * 3]!;
    rgba[i * 4 + 1] = rgb[i * 3 + 1]!;
    rgba[i * 4 + 2] = rgb[i * 3 + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: w, height: h }, quality).data;
}

export interface TreeSpec {
  format: 'png' | 'jpg';
  classes: string[];
  /** Images per class in train and test. */
  train: number;
  test: number;
  size: number;
  /** Folder prefix inside the tree (e.g. `cifar10-jpg/`). */
  prefix?: string;
}

const encoded = new Map<string, Buffer>();

/** The files of an ImageFolder tree: `<prefix><split>/<class>/NNNN.<ext>`. */
export function imageTree(spec: TreeSpec): { name: string; data: Buffer }[] {
  const files: { name: string; data: Buffer }[] = [];
  const prefix = spec.prefix ?? '';
  for (const [split, count] of [
    ['train', spec.train],
    ['test', spec.test],
  ] as const) {
    spec.classes.forEach((cls, k) => {
      for (let i = 0; i < count; i++) {
        // Encoding (jpeg-js especially) costs tens of ms per image; the same image is encoded once.
        const key = `${spec.format}:${k}:${i}:${spec.size}`;
        let data = encoded.get(key);
        if (!data) {
          const rgb = fixtureRgb(k, i, spec.size, spec.size);
          data = spec.format === 'png' ? encodePng(rgb, spec.size, spec.size) : encodeJpeg(rgb, spec.size, spec.size);
          encoded.set(key, data);
        }
        files.push({
          name: `${prefix}${split}/${cls}/${String(i).padStart(4, '0')}.${spec.format}`,
          data: Buffer.from(data),
        });
      }
    });
  }
  return files;
}
