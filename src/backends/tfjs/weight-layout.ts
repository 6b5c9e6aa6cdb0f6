/**
 * Weight layout conversions between the canonical IR layout (OIHW convolutions, dense rows in the
 * C-major order of an NCHW flatten) and the layout the tfjs model uses (HWIO convolutions, dense rows in
 * the order of an NHWC flatten). Pure functions on plain arrays; each pair is an exact inverse.
 */

/** Canonical OIHW `[out, in, kh, kw]` → tfjs HWIO `[kh, kw, in, out]`. */
export function oihwToHwio(src: Float32Array, shape: readonly number[]): { data: Float32Array; shape: number[] } {
  const [O, I, KH, KW] = shape as [number, number, number, number];
  const dst = new Float32Array(src.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let w = 0; w < KW; w++) dst[((h * KW + w) * I + i) * O + o] = src[((o * I + i) * KH + h) * KW + w]!;
  return { data: dst, shape: [KH, KW, I, O] };
}

/** tfjs HWIO `[kh, kw, in, out]` → canonical OIHW `[out, in, kh, kw]`. */
export function hwioToOihw(src: Float32Array, shape: readonly number[]): { data: Float32Array; shape: number[] } {
  const [KH, KW, I, O] = shape as [number, number, number, number];
  const dst = new Float32Array(src.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let w = 0; w < KW; w++) dst[((o * I + i) * KH + h) * KW + w] = src[((h * KW + w) * I + i) * O + o]!;
  return { data: dst, shape: [O, I, KH, KW] };
}

/**
 * Rows of a dense weight `[C*H*W, out]` that follows a flatten of `[C, H, W]`: canonical row
 * `c*H*W + h*W + w` (NCHW flatten) moves to `(h*W + w)*C + c` (NHWC flatten), so the NHWC network
 * computes exactly what the NCHW one does.
 */
export function denseRowsChwToHwc(src: Float32Array, units: number, chw: readonly number[]): Float32Array {
  const [C, H, W] = chw as [number, number, number];
  const dst = new Float32Array(src.length);
  for (let c = 0; c < C; c++)
    for (let p = 0; p < H * W; p++) {
      const from = (c * H * W + p) * units;
      dst.set(src.subarray(from, from + units), (p * C + c) * units);
    }
  return dst;
}

/** Inverse of {@link denseRowsChwToHwc}. */
export function denseRowsHwcToChw(src: Float32Array, units: number, chw: readonly number[]): Float32Array {
  const [C, H, W] = chw as [number, number, number];
  const dst = new Float32Array(src.length);
  for (let c = 0; c < C; c++)
    for (let p = 0; p < H * W; p++) {
      const from = (p * C + c) * units;
      dst.set(src.subarray(from, from + units), (c * H * W + p) * units);
    }
  return dst;
}

/** NCHW `[n, C, H, W]` activations → NHWC `[n, H, W, C]`. */
export function nchwToNhwc(src: Float32Array, n: number, C: number, H: number, W: number): Float32Array {
  const dst = new Float32Array(n * C * H * W);
  const per = C * H * W;
  for (let b = 0; b < n; b++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) dst[b * per + p * C + c] = src[b * per + c * H * W + p]!;
  return dst;
}
