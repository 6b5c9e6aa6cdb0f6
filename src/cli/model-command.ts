/**
 * `expbench model <experiment> [--onnx out.onnx]`: the experiment's network as a table (node, op,
 * output shape, parameters, multiply-adds, with totals), and optionally the model written as a
 * standalone ONNX file (weights as initializers, batch dimension N) that Netron and ONNX Runtime open.
 * The weights are the ones a run starts from: seeded from `training.seed`, or an ONNX model's own; with
 * `--weights`, the trained weights a run kept (`training.keepWeights`), checked against the model.
 */
import { resolve } from 'node:path';
import { exportOnnx } from '../backends/onnxruntime/forward.ts';
import { inputGeometry, loadExperiment } from '../config/load.ts';
import { ExpbenchError } from '../errors.ts';
import { buildModel } from '../models/index.ts';
import { readKeptWeights } from '../models/kept-weights.ts';
import { formatSummary, summarizeModel } from '../models/summary.ts';
import { keptWeightsFile } from './weights-source.ts';

export async function runModelCommand(
  args: { file: string; profile?: string; onnx?: string; weights?: string },
  io: { out: (s: string) => void; err: (s: string) => void } = {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
  },
): Promise<number> {
  const exp = loadExperiment(args.file, args.profile === undefined ? {} : { profile: args.profile });
  const geometry = inputGeometry(exp.dataset);
  if (!geometry) {
    throw new ExpbenchError(
      'USAGE',
      `${args.file}: the image size of an image-folder dataset is known only once its images are read`,
      { hint: 'set dataset.imageSize (and classes) in the experiment to summarise its model' },
    );
  }
  if (args.weights !== undefined && !args.onnx) {
    throw new ExpbenchError('USAGE', '--weights goes with --onnx: it says which weights the ONNX file gets', {
      hint: 'expbench model <experiment> --onnx out.onnx --weights <record folder or .weights.onnx file>',
    });
  }
  const archs = exp.sweep?.arch ?? [exp.model.arch];
  if (args.onnx && archs.length > 1) {
    throw new ExpbenchError(
      'USAGE',
      `${args.file} sweeps ${archs.length} architectures (${archs.join(', ')}); --onnx writes one model`,
      { hint: 'write one architecture at a time from an experiment without a sweep' },
    );
  }
  const kept = args.weights === undefined ? undefined : await keptWeightsFile(args.weights, exp.name);
  for (const arch of archs) {
    const { model, weights } = buildModel({ ...exp.model, arch }, geometry.input, geometry.classes, exp.training.seed);
    io.out(formatSummary(summarizeModel(model)));
    if (args.onnx) {
      const out = resolve(args.onnx);
      await exportOnnx(model, kept ? readKeptWeights(kept, model) : weights, out);
      const source = kept
        ? `the trained weights of ${kept}`
        : exp.model.onnx
          ? "the ONNX file's weights"
          : `weights seeded from training.seed ${exp.training.seed}`;
      io.out(`wrote ${out} (opset 17, ${source})`);
    }
  }
  return 0;
}
