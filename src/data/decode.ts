/**
 * Image decoding for image folders: JPEG with jpeg-js and PNG with pngjs, both pure JavaScript.
 * Measured on the 12,000 32×32 JPEGs of cifar10-jpg-small: jpeg-js decodes one in ~70 µs, sharp
 * (libvips) takes ~300–380 µs per image at that size because of its per-call overhead, so the pure
 * decoders are the faster choice for the small images these experiments use.
 *
 * Every image becomes 8-bit RGB, HWC, as torchvision's default loader (`PIL.Image.convert('RGB')`)
 * gives: grayscale is replicated to three channels, alpha is dropped (not composited).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

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
    if (width * height > MAX_MEGAPIXELS * 1e6) throw new Error(`image is ${width}×${height}, larger than ${MAX_MEGAPIXELS} megapixels`);
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
    // Strict decoding: a truncated or damaged JPEG is an error, as PIL reports it by default,
    // rather than an image with grey blocks that would silently poison the data.
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 });
    if (!img.width || !img.height) throw new Error('JPEG has no image data');
    return { width: img.width, height: img.height, data: img.data };
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
