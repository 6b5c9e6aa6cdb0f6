/**
 * JPEG decoding with libjpeg-turbo compiled to WebAssembly (the `jpeg-turbo.wasm` that the
 * `@cwasm/jpeg-turbo` package ships), through TurboJPEG's `tjDecompress2` with default flags:
 * accurate integer IDCT and "fancy" (triangle-filter) chroma upsampling — the decoder and settings
 * PIL, and so torchvision's ImageFolder, use. Decoded pixels are therefore bit-identical to what a
 * PyTorch pipeline sees, and train-set statistics match the ones published with the dataset.
 *
 * Why not the package's own `decode()`: its build turns libjpeg's fatal-error `longjmp` into a thrown
 * JS exception that leaves the WebAssembly heap in an inconsistent state (measured: after a few
 * hundred corrupt inputs every later call fails with "memory access out of bounds"). Here the
 * compiled module is kept and the instance is thrown away after any failure, so one corrupt file
 * cannot affect the next decode.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The slice of the WebAssembly API used here (the project's `lib` setting has no DOM/wasm types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface TurboExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  free(ptr: number): void;
  tjInitDecompress(): number;
  tjDecompressHeader3(
    handle: number,
    buf: number,
    size: number,
    width: number,
    height: number,
    subsamp: number,
    colorspace: number,
  ): number;
  tjDecompress2(
    handle: number,
    buf: number,
    size: number,
    dst: number,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    flags: number,
  ): number;
  tjDestroy(handle: number): number;
}

/** TurboJPEG's `TJPF_RGB`: 3 bytes per pixel, R G B. */
const TJPF_RGB = 0;
/** TurboJPEG's colour spaces that have no RGB conversion. */
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;

let compiled: object | null = null;
let instance: TurboExports | null = null;

function module(): object {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const path = require.resolve('@cwasm/jpeg-turbo/jpeg-turbo.wasm');
    compiled = new WA.Module(readFileSync(path));
  }
  return compiled;
}

function exports(): TurboExports {
  if (!instance) {
    const fail = (name: string) => () => {
      throw new Error(`libjpeg-turbo called ${name}`);
    };
    // The build expects a minimal WASI and setjmp/longjmp; libjpeg's error exit reaches longjmp,
    // which throws here and unwinds to decodeJpegTurbo's catch.
    const inst = new WA.Instance(module(), {
      env: {
        setjmp: () => 0,
        longjmp: () => {
          throw new JpegTurboError('invalid or corrupt JPEG data');
        },
      },
      wasi_snapshot_preview1: {
        environ_sizes_get: () => 0,
        environ_get: fail('environ_get'),
        proc_exit: fail('proc_exit'),
        fd_close: fail('fd_close'),
        fd_seek: fail('fd_seek'),
        fd_write: fail('fd_write'),
      },
    });
    instance = inst.exports as unknown as TurboExports;
  }
  return instance;
}

class JpegTurboError extends Error {}

/**
 * Decodes a JPEG to 8-bit RGB (HWC). Grayscale JPEGs come back replicated to three channels.
 * Returns null for CMYK/YCCK JPEGs (TurboJPEG has no conversion to RGB for them); throws an Error
 * with the reason on corrupt data. `maxPixels` guards against decompression bombs.
 */
export function decodeJpegTurbo(
  input: Uint8Array,
  maxPixels: number,
): { width: number; height: number; data: Uint8Array } | null {
  const ex = exports();
  let inPtr = 0;
  let metaPtr = 0;
  let outPtr = 0;
  let handle = 0;
  try {
    inPtr = ex.malloc(input.byteLength);
    metaPtr = ex.malloc(16);
    if (!inPtr || !metaPtr) throw new JpegTurboError('out of WebAssembly memory');
    new Uint8Array(ex.memory.buffer, inPtr, input.byteLength).set(input);
    handle = ex.tjInitDecompress();
    if (!handle) throw new JpegTurboError('cannot allocate a decompressor');
    if (
      ex.tjDecompressHeader3(handle, inPtr, input.byteLength, metaPtr, metaPtr + 4, metaPtr + 8, metaPtr + 12) !== 0
    ) {
      throw new JpegTurboError('invalid JPEG header');
    }
    const [width, height, , colorspace] = new Uint32Array(ex.memory.buffer, metaPtr, 4);
    if (!width || !height) throw new JpegTurboError('JPEG has no image data');
    // TurboJPEG cannot turn CMYK/YCCK into RGB; the caller decodes those another way.
    if (colorspace === TJCS_CMYK || colorspace === TJCS_YCCK) return null;
    if (width * height > maxPixels)
      throw new JpegTurboError(`image is ${width}×${height}, larger than ${(maxPixels / 1e6).toFixed(0)} megapixels`);
    const size = width * height * 3;
    outPtr = ex.malloc(size);
    if (!outPtr) throw new JpegTurboError('out of WebAssembly memory');
    // Non-zero also for libjpeg warnings such as "premature end of data" (a truncated file),
    // which PIL reports as an error too.
    if (ex.tjDecompress2(handle, inPtr, input.byteLength, outPtr, width, width * 3, height, TJPF_RGB, 0) !== 0) {
      throw new JpegTurboError('invalid or truncated JPEG data');
    }
    const data = new Uint8Array(size);
    data.set(new Uint8Array(ex.memory.buffer, outPtr, size));
    return { width, height, data };
  } catch (e) {
    // Whatever libjpeg was doing was cut short: drop the instance rather than trust its heap.
    instance = null;
    handle = inPtr = metaPtr = outPtr = 0;
    throw e instanceof JpegTurboError ? new Error(e.message) : e;
  } finally {
    if (handle) ex.tjDestroy(handle);
    if (inPtr) ex.free(inPtr);
    if (metaPtr) ex.free(metaPtr);
    if (outPtr) ex.free(outPtr);
  }
}
