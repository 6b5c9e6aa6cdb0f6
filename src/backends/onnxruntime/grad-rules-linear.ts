/** Gradient rules of the matrix products Gemm and MatMul. */
import { attrInt } from './autodiff-shapes.ts';
import type { GradRule, RuleTable } from './grad-context.ts';
import type { OnnxNode } from './graph.ts';

function gemmRule(n: OnnxNode): GradRule {
  const ta = attrInt(n, 'transA', 0) === 1;
  const tb = attrInt(n, 'transB', 0) === 1;
  const alpha = attrInt(n, 'alpha', 1);
  const beta = attrInt(n, 'beta', 1);
  return (c, d, want) => {
    const [a, b, cc] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2]];
    const dy = d[0]!;
    const gemm = (p: string, q: string, tA: boolean, tB: boolean) =>
      c.op('Gemm', [p, q], {
        ...(tA ? { transA: 1 } : {}),
        ...(tB ? { transB: 1 } : {}),
        ...(alpha !== 1 ? { alpha: { float: alpha } } : {}),
      });
    // Y = α·op(A)·op(B) + β·C; d op(A) = α·dY·op(B)ᵀ, d op(B) = α·op(A)ᵀ·dY, transposed back where op transposes.
    let da: string | undefined;
    let db: string | undefined;
    let dc: string | undefined;
    if (want[0])
      da = !ta
        ? !tb
          ? gemm(dy, b, false, true)
          : gemm(dy, b, false, false)
        : !tb
          ? gemm(b, dy, false, true)
          : gemm(b, dy, true, true);
    if (want[1])
      db = !tb
        ? !ta
          ? gemm(a, dy, true, false)
          : gemm(a, dy, false, false)
        : !ta
          ? gemm(dy, a, true, false)
          : gemm(dy, a, true, true);
    if (want[2] && cc) {
      const scaled = beta === 1 ? dy : c.mul(dy, c.scalar(beta));
      dc = c.unbroadcast(scaled, c.shape(cc));
    }
    return [da, db, dc];
  };
}

function matmulRule(n: OnnxNode): GradRule {
  return (c, d, want) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    const dy = d[0]!;
    const as = c.shape(a);
    const bs = c.shape(b);
    if (as.length === 2 && bs.length === 2) {
      return [
        want[0] ? c.op('Gemm', [dy, b], { transB: 1 }) : undefined,
        want[1] ? c.op('Gemm', [a, dy], { transA: 1 }) : undefined,
      ];
    }
    const swapLast = (v: string) => {
      const r = c.shape(v).length;
      const perm = Array.from({ length: r }, (_, i) => i);
      perm[r - 1] = r - 2;
      perm[r - 2] = r - 1;
      return c.op('Transpose', [v], { perm });
    };
    return [
      want[0] ? c.unbroadcast(c.op('MatMul', [dy, swapLast(b)]), as) : undefined,
      want[1] ? c.unbroadcast(c.op('MatMul', [swapLast(a), dy]), bs) : undefined,
    ];
  };
}

export const LINEAR_RULES: RuleTable = { Gemm: gemmRule, MatMul: matmulRule };
