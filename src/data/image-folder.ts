/**
 * Image folders as torchvision's `ImageFolder` reads them: `root/<split>/<class>/**\/*.{png,jpg,jpeg}`,
 * class ids from the class folder names in sorted (code-point) order, or in the order the config's
 * `classes` lists them; files within a class in sorted order (walking sub-folders as `os.walk` does).
 * The tree may also be given as a `.tar.gz` (or `.tar`) of such a tree, which is streamed, never
 * extracted to disk.
 *
 * Selection: examples are interleaved across classes (the first file of every class, then the
 * second of every class, …), and the first `train` (or `test`) of that sequence are taken. So any
 * prefix is class-balanced (counts differ by at most one while every class still has files) and
 * `train: 49984` of CIFAR-10's 50,000 takes 4,998 or 4,999 of each class, deterministically.
 */
import { type Dirent, readdirSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { DataError } from '../errors.ts';
import { decodeImage, IMAGE_EXTENSIONS, resizeBilinear, type RgbImage } from './decode.ts';
import { defaultDataDirs, isDir, isFile, resolveDataPath } from './locate.ts';
import { readTar } from './tar.ts';
import type { Split } from './types.ts';

/** Name of the image folder (and `<name>.tar.gz`) looked for inside a data folder. */
export const KNOWN_IMAGE_FOLDERS = ['cifar10-jpg'];
/** Split folder names: train, and the test split's accepted names in order of preference. */
const TRAIN_DIR = 'train';
const TEST_DIRS = ['test', 'val'];

export type ImageFolderLocation = { kind: 'folder'; root: string } | { kind: 'archive'; file: string };

export interface ImageFolderOptions {
  train: number;
  test: number;
  classes?: string[];
  imageSize?: number;
  sizeMismatch: 'resize' | 'reject';
  signal?: AbortSignal;
}

export interface ImageFolderLoaded {
  train: Split;
  test: Split;
  classNames: string[];
  height: number;
  width: number;
  source: string;
}

/** An image file found in a split: where it is and how to get its bytes. */
interface ImageRef {
  /** Path within its class folder, the sort key. */
  rel: string;
  /** Name used in messages (a path, or `archive:path`). */
  name: string;
  load(): Promise<Uint8Array>;
}

interface SplitListing {
  /** The split folder's display name. */
  dir: string;
  /** Class folder name → its images, sorted. */
  classes: Map<string, ImageRef[]>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isImageName(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  // Hidden files (macOS `._x.jpg` resource forks, editors' temp files) are not images.
  return !base.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(base).toLowerCase());
}

/** Probes `p` for an image folder: a root with `train/`, a known folder or archive inside, or an archive. */
export function probeImageFolder(p: string): ImageFolderLocation | null {
  if (isFile(p)) return { kind: 'archive', file: p };
  if (!isDir(p)) return null;
  if (isDir(join(p, TRAIN_DIR))) return { kind: 'folder', root: p };
  for (const name of KNOWN_IMAGE_FOLDERS) {
    const exact = knownCopy(p, name);
    if (exact) return exact;
  }
  return namedVariant(p);
}

const ARCHIVE_EXTS = ['.tar.gz', '.tgz', '.tar'];

/** `<p>/<name>/` holding `train/`, or `<p>/<name>.tar.gz` (`.tgz`, `.tar`). */
function knownCopy(p: string, name: string): ImageFolderLocation | null {
  if (isDir(join(p, name, TRAIN_DIR))) return { kind: 'folder', root: join(p, name) };
  for (const ext of ARCHIVE_EXTS)
    if (isFile(join(p, name + ext))) return { kind: 'archive', file: join(p, name + ext) };
  return null;
}

/**
 * A copy named after a known folder with a suffix (`cifar10-jpg-small.tar.gz`, `cifar10-jpg-full/`),
 * when there is exactly one; several are ambiguous, so the error lists them.
 */
function namedVariant(p: string): ImageFolderLocation | null {
  let names: string[];
  try {
    names = readdirSync(p).sort(cmp);
  } catch {
    return null;
  }
  const found: ImageFolderLocation[] = [];
  for (const entry of names) {
    if (!KNOWN_IMAGE_FOLDERS.some((k) => entry.startsWith(`${k}-`))) continue;
    const ext = ARCHIVE_EXTS.find((e) => entry.endsWith(e));
    const copy = knownCopy(p, ext ? entry.slice(0, -ext.length) : entry);
    if (copy && !found.some((f) => JSON.stringify(f) === JSON.stringify(copy))) found.push(copy);
  }
  if (found.length > 1) {
    const shown = found.map((f) => (f.kind === 'folder' ? `${basename(f.root)}/` : basename(f.file)));
    throw new DataError(`${p}: several image folders (${shown.join(', ')}); which one to use is not clear`, {
      hint: 'give dataset.path in the experiment file, or keep one of them in this folder',
    });
  }
  return found[0] ?? null;
}

/**
 * Finds the image folder: the config's `path` (relative to `baseDir`), else `$EXPBENCH_DATA`, else
 * the cache folder; in the latter two, the folder itself if it has `train/`, else `cifar10-jpg/` or
 * `cifar10-jpg.tar.gz` inside it.
 */
export function locateImageFolder(
  path: string | undefined,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): ImageFolderLocation {
  if (path !== undefined) {
    const p = resolveDataPath(path, baseDir);
    const found = probeImageFolder(p);
    if (found) return found;
    if (isDir(p)) {
      throw new DataError(
        `${p}: missing split folder ${TRAIN_DIR}/ (an image folder holds ${TRAIN_DIR}/<class>/*.jpg|png and test/<class>/…)`,
        {
          hint: 'point dataset.path at the folder that contains train/ and test/, or at a .tar.gz of that tree',
        },
      );
    }
    throw new DataError(`${p}: does not exist (dataset.path, resolved against ${baseDir})`, {
      code: 'DATA_MISSING',
      hint: 'fix dataset.path: it is relative to the experiment file',
    });
  }
  const dirs = defaultDataDirs(env);
  for (const { dir } of dirs) {
    const found = probeImageFolder(dir);
    if (found) return found;
  }
  throw new DataError(
    `image folder not found: no dataset.path, and no train/ folder, cifar10-jpg[-*]/ or cifar10-jpg[-*].tar.gz in ${dirs.map((d) => `${d.dir} (${d.from})`).join(' or ')}`,
    {
      code: 'DATA_MISSING',
      hint: 'give dataset.path in the experiment file, or set EXPBENCH_DATA to the image folder (or a folder containing cifar10-jpg.tar.gz)',
    },
  );
}

async function walkImages(dir: string, rel: string, out: ImageRef[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataError(`${dir}: cannot list the folder: ${(e as Error).message}`, {
      cause: e,
      hint: 'check that it exists and is readable',
    });
  }
  entries.sort((a, b) => cmp(a.name, b.name));
  const subdirs: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    let isDirectory = e.isDirectory();
    let isRegular = e.isFile();
    if (e.isSymbolicLink()) {
      // Follow links as ImageFolder does (os.walk(followlinks=True)); dangling ones are skipped.
      const s = await stat(full).catch(() => null);
      isDirectory = !!s?.isDirectory();
      isRegular = !!s?.isFile();
    }
    if (isDirectory) subdirs.push(e.name);
    else if (isRegular && isImageName(e.name)) {
      out.push({
        rel: rel ? `${rel}/${e.name}` : e.name,
        name: full,
        load: () =>
          readFile(full).catch((err: unknown) => {
            throw new DataError(`${full}: cannot read: ${(err as Error).message}`, {
              cause: err,
              hint: 'check the file permissions',
            });
          }),
      });
    }
  }
  for (const d of subdirs) await walkImages(join(dir, d), rel ? `${rel}/${d}` : d, out);
}

async function listFolderSplit(splitDir: string): Promise<SplitListing> {
  const entries = await readdir(splitDir, { withFileTypes: true }).catch((e: unknown) => {
    throw new DataError(`${splitDir}: cannot list the folder: ${(e as Error).message}`, {
      cause: e,
      hint: 'check that it is readable',
    });
  });
  const classes = new Map<string, ImageRef[]>();
  const names: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(splitDir, e.name);
    if (e.isDirectory() || (e.isSymbolicLink() && isDir(full))) names.push(e.name);
  }
  names.sort(cmp);
  for (const name of names) {
    const refs: ImageRef[] = [];
    await walkImages(join(splitDir, name), '', refs);
    // walkImages lists a folder's files before its sub-folders; sort by (folder, file) as os.walk does.
    refs.sort((a, b) => cmp(dirOf(a.rel), dirOf(b.rel)) || cmp(a.rel, b.rel));
    classes.set(name, refs);
  }
  return { dir: splitDir, classes };
}

function dirOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** Lists both splits of an extracted folder; `needTest` false skips the test split. */
async function listFolder(
  root: string,
  needTest: boolean,
): Promise<{ train: SplitListing; test: SplitListing | null }> {
  const trainDir = join(root, TRAIN_DIR);
  if (!isDir(trainDir)) {
    throw new DataError(`${root}: missing split folder ${TRAIN_DIR}/`, {
      hint: `an image folder holds ${TRAIN_DIR}/<class>/*.jpg|png and test/<class>/…`,
    });
  }
  const train = await listFolderSplit(trainDir);
  if (!needTest) return { train, test: null };
  const testDir = TEST_DIRS.map((d) => join(root, d)).find(isDir);
  if (!testDir) {
    throw new DataError(`${root}: missing split folder ${TEST_DIRS[0]}/ (or ${TEST_DIRS.slice(1).join(', ')}/)`, {
      hint: 'add the test images as test/<class>/*.jpg|png, or set dataset.test to 0',
    });
  }
  return { train, test: await listFolderSplit(testDir) };
}

/** Lists both splits of an archive: finds the tree's root (the folder above `train/`), keeps image entries. */
async function listArchive(
  file: string,
  needTest: boolean,
  signal?: AbortSignal,
): Promise<{ train: SplitListing; test: SplitListing | null; root: string }> {
  const entries = await readTar(file, (path) => isImageName(path), signal ? { signal } : {});
  const roots = new Set<string>();
  for (const e of entries) {
    const segs = e.path.split('/');
    const i = segs.indexOf(TRAIN_DIR);
    if (i >= 0 && segs.length - i >= 3) roots.add(segs.slice(0, i).join('/'));
  }
  if (roots.size === 0) {
    throw new DataError(
      `${file}: missing split folder ${TRAIN_DIR}/: the archive holds no ${TRAIN_DIR}/<class>/ images (${entries.length} image files in all)`,
      {
        hint: `an image-folder archive holds [top/]${TRAIN_DIR}/<class>/*.jpg|png and [top/]test/<class>/…`,
      },
    );
  }
  if (roots.size > 1) {
    throw new DataError(
      `${file}: several image trees in one archive (${[...roots].map((r) => `${r || '.'}/${TRAIN_DIR}`).join(', ')})`,
      {
        hint: 'use an archive holding one tree, or extract it and point dataset.path at one of them',
      },
    );
  }
  const root = [...roots][0]!;
  const prefix = root ? `${root}/` : '';
  const splits = new Map<string, Map<string, ImageRef[]>>();
  for (const e of entries) {
    if (!e.path.startsWith(prefix)) continue;
    const rest = e.path.slice(prefix.length).split('/');
    if (rest.length < 3) continue;
    const [split, cls] = rest as [string, string];
    let classes = splits.get(split);
    if (!classes) {
      classes = new Map();
      splits.set(split, classes);
    }
    let refs = classes.get(cls);
    if (!refs) {
      refs = [];
      classes.set(cls, refs);
    }
    const data = e.data;
    refs.push({ rel: rest.slice(2).join('/'), name: `${file}:${e.path}`, load: async () => data });
  }
  const listing = (split: string): SplitListing => {
    const classes = splits.get(split)!;
    const sorted = new Map([...classes.entries()].sort((a, b) => cmp(a[0], b[0])));
    for (const refs of sorted.values()) refs.sort((a, b) => cmp(dirOf(a.rel), dirOf(b.rel)) || cmp(a.rel, b.rel));
    return { dir: `${file}:${prefix}${split}`, classes: sorted };
  };
  const train = listing(TRAIN_DIR);
  if (!needTest) return { train, test: null, root };
  const testName = TEST_DIRS.find((d) => splits.has(d));
  if (!testName) {
    throw new DataError(`${file}: missing split folder ${prefix}${TEST_DIRS[0]}/: the archive holds no test images`, {
      hint: 'add the test images as test/<class>/*.jpg|png, or set dataset.test to 0',
    });
  }
  return { train, test: listing(testName), root };
}

/** Class order and per-split checks (empty class folders, test classes unknown to train). */
function resolveClasses(train: SplitListing, test: SplitListing | null, given: string[] | undefined): string[] {
  const classes = given ?? [...train.classes.keys()];
  if (classes.length === 0) {
    throw new DataError(`${train.dir}: no class folders`, {
      hint: "put each class's images in its own folder: train/<class>/*.jpg|png",
    });
  }
  if (classes.length > 256) {
    throw new DataError(`${train.dir}: ${classes.length} classes, more than the 256 that 8-bit labels hold`, {
      hint: 'list the classes to use in dataset.classes',
    });
  }
  if (new Set(classes).size !== classes.length) {
    throw new DataError(`dataset.classes lists a class twice: ${JSON.stringify(classes)}`, {
      hint: 'list each class folder once',
    });
  }
  for (const split of test ? [train, test] : [train]) {
    for (const cls of classes) {
      const refs = split.classes.get(cls);
      if (!refs) {
        // A class the train split lacks is fatal; a test split may lack one only when classes were listed.
        if (split === train || given === undefined) {
          throw new DataError(
            `${split.dir}/${cls}: missing class folder${given ? ' (listed in dataset.classes)' : ` (present in ${train.dir})`}`,
            {
              hint: given
                ? 'fix dataset.classes or add the folder'
                : 'every class of train/ needs a folder in test/ too',
            },
          );
        }
        continue;
      }
      if (refs.length === 0) {
        throw new DataError(`${split.dir}/${cls}: empty class folder (no ${IMAGE_EXTENSIONS.join('/')} files)`, {
          hint: `add images, remove the folder${given ? ', or leave the class out of dataset.classes' : ''}`,
        });
      }
    }
    if (given === undefined) {
      for (const cls of split.classes.keys()) {
        if (!classes.includes(cls)) {
          throw new DataError(`${split.dir}/${cls}: class folder not present in ${train.dir}`, {
            hint: 'test/ and train/ must have the same class folders, or list the classes to use in dataset.classes',
          });
        }
      }
    }
  }
  return classes;
}

/** The first `n` examples of the class-interleaved order: label and image reference. */
function interleave(
  listing: SplitListing,
  classes: string[],
  n: number,
  what: string,
): { label: number; ref: ImageRef }[] {
  const lists = classes.map((c) => listing.classes.get(c) ?? []);
  const total = lists.reduce((s, l) => s + l.length, 0);
  if (n > total) {
    throw new DataError(
      `${listing.dir}: dataset.${what} asks for ${n} examples but the folder holds ${total} images of the ${classes.length} classes`,
      {
        hint: `set dataset.${what} to at most ${total}`,
      },
    );
  }
  const out: { label: number; ref: ImageRef }[] = [];
  for (let r = 0; out.length < n; r++) {
    for (let k = 0; k < lists.length && out.length < n; k++) {
      const ref = lists[k]![r];
      if (ref) out.push({ label: k, ref });
    }
  }
  return out;
}

/** Loads `selected` into a split of `height × width × 3`, resizing or rejecting other sizes. */
async function decodeSplit(
  selected: { label: number; ref: ImageRef }[],
  geo: { height: number; width: number; from: string },
  sizeMismatch: 'resize' | 'reject',
  signal?: AbortSignal,
): Promise<Split> {
  const n = selected.length;
  const per = geo.height * geo.width * 3;
  const split: Split = { n, images: new Uint8Array(n * per), labels: new Uint8Array(n) };
  // Reads are started a window ahead so file I/O overlaps decoding (decoding is synchronous).
  const WINDOW = 32;
  const pending: (Promise<Uint8Array> | undefined)[] = [];
  const start = (j: number) => {
    const p = selected[j]!.ref.load();
    // Awaited in turn below; this handler only keeps a read-ahead that fails after an earlier
    // error has ended the loop from being reported as an unhandled rejection.
    p.catch(() => {});
    pending.push(p);
  };
  for (let i = 0; i < Math.min(WINDOW, n); i++) start(i);
  for (let i = 0; i < n; i++) {
    if ((i & 255) === 0) signal?.throwIfAborted();
    const { label, ref } = selected[i]!;
    const bytes = await pending[i]!;
    pending[i] = undefined;
    if (i + WINDOW < n) start(i + WINDOW);
    let img: RgbImage;
    try {
      img = decodeImage(bytes);
    } catch (e) {
      throw new DataError(`${ref.name}: cannot decode the image: ${(e as Error).message}`, {
        cause: e,
        hint: 'the file is corrupt or not a PNG/JPEG; replace or delete it',
      });
    }
    split.labels[i] = label;
    if (img.width === geo.width && img.height === geo.height) {
      split.images.set(img.data, i * per);
    } else if (sizeMismatch === 'resize') {
      resizeBilinear(img, geo.width, geo.height, split.images, i * per);
    } else {
      throw new DataError(
        `${ref.name}: image is ${img.width}×${img.height}, but the dataset's images are ${geo.width}×${geo.height} (${geo.from})`,
        {
          hint: 'set dataset.sizeMismatch: resize to resize such images (bilinear), or make all images the same size',
        },
      );
    }
  }
  return split;
}

/** Loads an image folder (extracted or archived) into memory. */
export async function loadImageFolder(loc: ImageFolderLocation, opts: ImageFolderOptions): Promise<ImageFolderLoaded> {
  for (const what of ['train', 'test'] as const) {
    const v = opts[what];
    if (!Number.isInteger(v) || v < 0)
      throw new DataError(`dataset.${what} must be a non-negative integer, got ${v}`, { hint: `set dataset.${what}` });
  }
  if (opts.imageSize !== undefined && (!Number.isInteger(opts.imageSize) || opts.imageSize < 1)) {
    throw new DataError(`dataset.imageSize must be a positive integer, got ${opts.imageSize}`, {
      hint: "give the side of the square images, e.g. 32, or leave it out to use the first image's size",
    });
  }
  const needTest = opts.test > 0;
  let listed: { train: SplitListing; test: SplitListing | null };
  let source: string;
  if (loc.kind === 'folder') {
    listed = await listFolder(loc.root, needTest);
    source = `image folder ${loc.root}`;
  } else {
    const a = await listArchive(loc.file, needTest, opts.signal);
    listed = a;
    source = `image-folder archive ${loc.file}${a.root ? ` (${a.root}/)` : ''}`;
  }
  const classes = resolveClasses(listed.train, listed.test, opts.classes);
  const trainSel = interleave(listed.train, classes, opts.train, 'train');
  const testSel = listed.test ? interleave(listed.test, classes, opts.test, 'test') : [];

  // Geometry: the configured square size, else that of the first selected image.
  let geo: { height: number; width: number; from: string };
  if (opts.imageSize !== undefined) {
    geo = { height: opts.imageSize, width: opts.imageSize, from: 'dataset.imageSize' };
  } else {
    const first = trainSel[0] ?? testSel[0];
    if (!first) {
      geo = { height: 0, width: 0, from: 'no images selected' };
    } else {
      let img: RgbImage;
      try {
        img = decodeImage(await first.ref.load());
      } catch (e) {
        throw new DataError(`${first.ref.name}: cannot decode the image: ${(e as Error).message}`, {
          cause: e,
          hint: 'the file is corrupt or not a PNG/JPEG; replace or delete it',
        });
      }
      geo = {
        height: img.height,
        width: img.width,
        from: `the size of the first image, ${first.ref.name}; set dataset.imageSize to choose one`,
      };
    }
  }
  const train = await decodeSplit(trainSel, geo, opts.sizeMismatch, opts.signal);
  const test = await decodeSplit(testSel, geo, opts.sizeMismatch, opts.signal);
  return { train, test, classNames: classes, height: geo.height, width: geo.width, source };
}
