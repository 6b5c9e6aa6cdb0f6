/**
 * Image decoding for image folders. JPEG goes through libjpeg-turbo (WebAssembly, see
 * `jpeg-turbo.ts`): the decoder PIL and torchvision use, so pixels are bit-identical to theirs and the
 * CIFAR-10 JPEG train set's channel statistics come out exactly as published (0.4913, 0.4821,
 * 0.4465 / 0.2452, 0.2428, 0.2606). Measured on the 50,000 32×32 JPEGs of cifar10-jpg, in one run:
 * libjpeg-turbo/WASM 67 µs per image, jpeg-js 257 µs (and 69% of its values differ from
 * libjpeg-turbo's: it truncates instead of rounding colour conversion and upsamples chroma by
 * replication, which shifts the means by −0.0013 to −0.0019), sharp 772 µs (libvips per-call
 * overhead dominates at this size; its pixels equal libjpeg-turbo/WASM's). PNG goes through pngjs.
 *
 * Every image becomes 8-bit RGB, HWC, as torchvision's default loader (`PIL.Image.convert('RGB')`)
 * gives: grayscale is replicated to three channels, alpha is dropped (not composited).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeJpegTurbo } from './jpeg-turbo.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** `height * width * 3` bytes, HWC. */
  data: Uint8Array;
}

/** Image file extensions read from image folders (lower case, with the dot). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** Largest image accepted, in megapixels: guards against decompression bombs in user folders. */
const MAX_MEGAPIXELS = 64;

/**
 * Decodes a PNG or JPEG (recognised by its magic bytes, not its name) to RGB. Throws a plain Error
 * with the decoder's reason; callers add the file name.
 */
export function decodeImage(buf: Uint8Array): RgbImage {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) {
    const png = PNG.sync.read(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    const { width, height } = png;
    if (width * height > MAX_MEGAPIXELS * 1e6)
      throw new Error(`image is ${width}×${height}, larger than ${MAX_MEGAPIXELS} megapixels`);
    // pngjs always returns RGBA (grayscale and palette expanded, 16-bit scaled to 8-bit).
    const src = png.data;
    const data = new Uint8Array(width * height * 3);
    for (let p = 0, q = 0; q < data.length; p += 4, q += 3) {
      data[q] = src[p]!;
      data[q + 1] = src[p + 1]!;
      data[q + 2] = src[p + 2]!;
    }
    return { width, height, data };
  }
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
    const img = decodeJpegTurbo(buf, MAX_MEGAPIXELS * 1e6);
    if (img) return img;
    // CMYK/YCCK JPEGs, which TurboJPEG does not convert to RGB: jpeg-js does (Adobe-inverted CMYK,
    // as PIL reads it). Strict decoding: a damaged file is an error, not grey blocks.
    const cmyk = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_MEGAPIXELS,
      maxMemoryUsageInMB: 1024,
    });
    return { width: cmyk.width, height: cmyk.height, data: cmyk.data };
  }
  throw new Error(buf.length === 0 ? 'the file is empty' : 'not a PNG or JPEG file (unrecognised signature)');
}

/**
 * Bilinear resize of an RGB image with half-pixel centres (`align_corners=False`, as
 * `torch.nn.functional.interpolate` and OpenCV's INTER_LINEAR), no antialiasing, rounded to uint8.
 */
export function resizeBilinear(img: RgbImage, width: number, height: number, out: Uint8Array, outOffset = 0): void {
  const { width: W, height: H, data } = img;
  const sx = W / width;
  const sy = H / height;
  for (let y = 0; y < height; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), H - 1);
    const y1 = Math.min(y0 + 1, H - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), W - 1);
      const x1 = Math.min(x0 + 1, W - 1);
      const wx = fx - x0;
      const o = outOffset + (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = data[(y0 * W + x0) * 3 + c]!;
        const b = data[(y0 * W + x1) * 3 + c]!;
        const d = data[(y1 * W + x0) * 3 + c]!;
        const e = data[(y1 * W + x1) * 3 + c]!;
        const top = a + (b - a) * wx;
        const bottom = d + (e - d) * wx;
        out[o + c] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
}
