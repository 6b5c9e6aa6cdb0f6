/**
 * The case's child process. Runs one experiment on one backend end to end — data, parity, then
 * `warmup + timedRounds` rounds of build+init → train → infer → evaluate — and sends back one result
 * record (the parent merges the records of a case's processes). Isolation is the point: a native crash, a hang or a runaway allocation here takes down only
 * this process, and peak memory is this case's alone.
 */
import { getBackend } from '../backends/registry.ts';
import type { Availability, Backend, LoadOptions, ModelSession } from '../backends/types.ts';
import { fillBatch } from '../data/batch.ts';
import { loadDataset } from '../data/index.ts';
import type { Dataset } from '../data/types.ts';
import { ExpbenchError, NumericError } from '../errors.ts';
import { multiplyAdds } from '../models/cost.ts';
import { buildModel } from '../models/index.ts';
import type { ModelGraph, Weights } from '../models/ir.ts';
import { compareLogits } from '../models/parity.ts';
import { referenceForward } from '../models/reference.ts';
import { collectEnvironment } from './env.ts';
import { collectMetrics, measureRound } from './measure.ts';
import { keepTrainedWeights } from './keep-weights.ts';
import type { MetricsRecord } from './metric-record.ts';
import { type AbsentSource, startMemorySampler, withBackendMemory } from './memory.ts';
import { profileCase, profileRequested } from './op-profile.ts';
import type { ChildMessage, ParentMessage, ProgressInfo, RunJob, WorkerPhase } from './protocol.ts';
import { describeRecipe, epochsToRun, type RecipeRun, runRecipe } from './recipe.ts';
import { addRecipeRepeat } from './recipe-record.ts';
import {
  type CaseError,
  type MemoryFigure,
  newRecord,
  type Outcome,
  type ParityResult,
  absentUnion,
  peakFigures,
  type ResultRecord,
  withOutcome,
} from './record.ts';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

let currentPhase: WorkerPhase = 'startup';
function enter(phase: WorkerPhase): void {
  currentPhase = phase;
  void send({ type: 'phase', phase });
}

/** Examples compared in the parity check: a few, so it costs nothing next to training. */
const PARITY_EXAMPLES = 4;

/** Stands for the float64 forward pass of `src/models/reference.ts` as a parity reference. */
const FLOAT64_REFERENCE = 'reference/float64' as const;

/**
 * What every part of a case works from once its data is loaded: the job, the backend, the network,
 * its initial weights, the data and the session options.
 */
interface CaseSetup {
  job: RunJob;
  backend: Backend;
  model: ModelGraph;
  weights: Weights;
  data: Dataset;
  loadOpts: LoadOptions;
  /** The repeat's seed: initial weights, data order, augmentation. */
  seed: number;
}

/**
 * Logits of this backend against the configured reference backend on the same weights and batch. The
 * reference backend itself is checked against the float64 forward pass, so every backend's numbers are
 * vouched for by something independent of it.
 */
async function runParity({
  job,
  backend,
  model,
  weights,
  data,
  loadOpts,
}: CaseSetup): Promise<ParityResult | { skipped: string }> {
  const { parity } = job.experiment;
  if (!parity.enabled) return { skipped: 'parity disabled in the experiment' };
  const n = Math.min(PARITY_EXAMPLES, data.test.n);
  const x = new Float32Array(n * data.channels * data.height * data.width);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  fillBatch(data.test, data, data.normalization, order, 0, n, 'NCHW', x);
  const opts = { ...loadOpts, trainBatchSize: n, inferBatchSize: n, training: false };
  const logitsOf = async (b: Backend): Promise<Float32Array> => {
    const s = await b.load(model, weights, opts);
    try {
      return await s.logits(x, n);
    } finally {
      await s.dispose();
    }
  };
  let reference: ParityResult['reference'] = parity.reference;
  let ref: Float32Array;
  if (parity.reference === job.backend) {
    reference = FLOAT64_REFERENCE;
    ref = Float32Array.from(referenceForward(model, weights, x, n));
  } else {
    let refBackend: Backend;
    try {
      refBackend = await getBackend(parity.reference);
    } catch (e) {
      return { skipped: `reference ${parity.reference} cannot be loaded: ${(e as Error).message}` };
    }
    const avail = await refBackend.probe();
    if (!avail.available) return { skipped: `reference ${parity.reference} unavailable: ${avail.reason}` };
    ref = await logitsOf(refBackend);
  }
  const mine = await logitsOf(backend);
  const cmp = compareLogits(mine, ref, parity.tolerance);
  return {
    reference,
    maxAbs: cmp.maxAbs,
    maxRel: cmp.maxRel,
    tolerance: parity.tolerance,
    passed: cmp.passed,
    examples: n,
  };
}

async function runCaseInProcess(job: RunJob): Promise<ResultRecord> {
  const exp = job.experiment;
  const startedAt = new Date().toISOString();
  const env = await collectEnvironment();
  const record = newRecord(exp, job.backend, job.key, job.runId, env, startedAt);
  const finish = (outcome: Outcome): ResultRecord => ({
    ...withOutcome(record, outcome),
    finishedAt: new Date().toISOString(),
  });

  try {
    enter('startup');
    const backend = await getBackend(job.backend);
    const avail = await backend.probe();
    if (!avail.available) {
      return finish({ status: 'skipped', skipReason: avail.reason });
    }

    enter('load-data');
    const data = await loadCaseData(exp, record);
    // With `seeds`, each repeat (one process each) trains from its own seed.
    const seed = exp.trains ? (exp.seeds?.[job.part] ?? exp.training.seed) : exp.inference.seed;
    const setup: CaseSetup = { job, backend, data, seed, ...prepareModel(exp, data, record, seed) };

    if (job.parity) {
      enter('parity');
      const parity = await runParity(setup);
      if ('skipped' in parity) {
        record.paritySkipped = parity.skipped;
      } else {
        record.parity = parity;
      }
    }

    const warmup: number[] = [];
    const timed: RoundResult[] = [];
    const trainMem: MemoryFigure[][] = [];
    const inferMem: MemoryFigure[][] = [];
    let absent: ResultRecord['memoryAbsent'];
    for (let round = 0; round < exp.warmup + job.timedRounds; round++) {
      const roundStart = performance.now();
      const r = await runRound(setup, record, round >= exp.warmup);
      trainMem.push(r.trainMemory);
      inferMem.push(r.inferMemory);
      absent = absentUnion(absent, r.memoryAbsent);
      if (round < exp.warmup) warmup.push((performance.now() - roundStart) / 1000);
      else {
        timed.push(r);
        if (r.recipe) addRecipeRepeat(record, exp, r.recipe, seed, describeRecipe(exp.training));
      }
    }
    // After every timed phase of this process, in a session of its own (src/runner/op-profile.ts).
    if (job.part === 0 && profileRequested(exp)) {
      enter('profile');
      const p = await profileCase(exp, backend, setup.model, setup.weights, data, setup.loadOpts);
      if ('profile' in p) record.opProfile = p.profile;
      else record.opProfileSkipped = p.skipped;
    }
    if (warmup.length) record.phases.warmup = { samples: warmup };
    record.phases.buildInit = { samples: timed.map((r) => r.buildInit) };
    if (exp.trains)
      record.phases.train = {
        samples: timed.map((r) => r.train ?? Number.NaN),
        imagesPerSecond: timed.map((r) => r.imagesPerSecond ?? Number.NaN),
      };
    record.phases.infer = { samples: timed.map((r) => r.infer) };
    record.accuracy = { samples: timed.map((r) => r.accuracy) };
    if (exp.trains) record.memory.train = peakFigures(trainMem);
    record.memory.infer = peakFigures(inferMem);
    record.memoryAbsent = absent;
    const metrics = collectMetrics(
      timed.flatMap((r) => (r.metrics ? [r.metrics] : [])),
      setup.model,
      exp,
    );
    if (metrics) record.metrics = metrics;
    return finish({ status: 'passed' });
  } catch (e) {
    return finish({ status: 'failed', error: caseErrorOf(e) });
  }
}

/** Loads the case's dataset and notes in the record what was loaded: kind, source, sizes and bytes. */
async function loadCaseData(exp: RunJob['experiment'], record: ResultRecord): Promise<Dataset> {
  const data = await loadDataset(exp.dataset, { baseDir: dirname(exp.file) });
  record.memory.dataset = [
    { metric: 'dataset', bytes: data.bytes, source: 'bytes of the loaded images and labels', reliable: true },
  ];
  record.experiment.dataset = {
    kind: data.kind,
    source: data.source,
    image: { height: data.height, width: data.width, channels: data.channels },
  };
  record.experiment.trainExamples = data.train.n;
  record.experiment.testExamples = data.test.n;
  return data;
}

/** The network for the loaded data, its seeded initial weights, and the options every session loads with. */
function prepareModel(
  exp: RunJob['experiment'],
  data: Dataset,
  record: ResultRecord,
  seed: number,
): { model: ModelGraph; weights: Weights; loadOpts: LoadOptions } {
  // Seeded weights, or an ONNX model's own.
  const { model, weights } = buildModel(
    exp.model,
    { channels: data.channels, height: data.height, width: data.width },
    data.numClasses,
    seed,
  );
  record.experiment.paramCount = model.paramCount;
  record.experiment.multiplyAddsPerExample = multiplyAdds(model);
  const loadOpts: LoadOptions = {
    optimizer: exp.training.optimizer,
    labelSmoothing: exp.training.labelSmoothing,
    augment: exp.training.augment,
    trainBatchSize: exp.training.batchSize,
    inferBatchSize: exp.inference.batchSize,
    seed,
    dataset: data,
  };
  // Without training the session is loaded for inference only: backends build no training graph.
  if (!exp.trains) Object.assign(loadOpts, { trainBatchSize: exp.inference.batchSize, training: false });
  return { model, weights, loadOpts };
}

/** The figures of one round: build+init, training and inference of a fresh session. */
interface RoundResult {
  buildInit: number;
  /** Training time and images per second; absent for an experiment without training. */
  train?: number;
  imagesPerSecond?: number;
  infer: number;
  accuracy: number;
  /** The recipe's outcome: evaluation curve and time, time to accuracy (absent without training). */
  recipe?: RecipeRun;
  /** Memory while training, with the backend's own figure read after evaluation. */
  trainMemory: MemoryFigure[];
  inferMemory: MemoryFigure[];
  /** Memory sources that gave no figure in this round's phases, and why. */
  memoryAbsent: NonNullable<ResultRecord['memoryAbsent']>;
  /** The declared metrics measured in this round (timed rounds only). */
  metrics?: MetricsRecord;
}

/**
 * One round on a fresh session: build+init, train, infer, evaluate. The record gets the session's
 * description as soon as it exists and the round's loss curve, so a failure later still shows both.
 */
async function runRound(
  { job, backend, model, weights, data, loadOpts, seed }: CaseSetup,
  record: ResultRecord,
  timed: boolean,
): Promise<RoundResult> {
  const exp = job.experiment;
  enter('buildInit');
  let t0 = performance.now();
  const session: ModelSession = await backend.load(model, weights, loadOpts);
  const buildInit = (performance.now() - t0) / 1000;
  record.backend.session = session.info;
  try {
    // An experiment without training goes from build+init straight to inference.
    let trained: Awaited<ReturnType<typeof trainWatched>> | undefined;
    if (exp.trains) {
      enter('train');
      trained = await trainWatched(job, session, data, seed);
      record.loss = trained.result.epochLoss;
    }

    enter('infer');
    const imem = startMemorySampler({ intervalMs: 50 });
    t0 = performance.now();
    const preds = await session.infer({ split: data.test, batchSize: exp.inference.batchSize });
    const infer = (performance.now() - t0) / 1000;
    const inferMemory = await imem.stop();

    enter('evaluate');
    let correct = 0;
    for (let i = 0; i < data.test.n; i++) if (preds[i] === data.test.labels[i]) correct++;
    const memFig = await session.memory?.();
    const stepsPerEpoch = Math.floor(data.train.n / exp.training.batchSize);
    const metrics = timed ? await measureRound(session, data, preds, exp, enter) : undefined;
    if (timed && job.weightsFile) {
      enter('keep-weights');
      record.weights = await keepTrainedWeights(session, model, job.weightsFile, seed);
    }
    return {
      buildInit,
      ...(trained
        ? {
            train: trained.seconds,
            imagesPerSecond: (stepsPerEpoch * exp.training.batchSize * trained.result.epochs) / trained.seconds,
            recipe: trained.result,
          }
        : {}),
      infer,
      accuracy: correct / Math.max(1, data.test.n),
      // Without training, the backend's own figure goes with inference.
      trainMemory: trained ? withBackendMemory(trained.memory, memFig) : [],
      inferMemory: trained ? inferMemory : withBackendMemory(inferMemory, memFig),
      memoryAbsent: { train: trained?.absent ?? [], infer: imem.absent },
      ...(metrics ? { metrics } : {}),
    };
  } finally {
    await session.dispose();
  }
}

/**
 * Trains `session` once over the experiment's epochs as its recipe says (`recipe.ts`: schedule,
 * augmentation, evaluation between chunks of epochs on a clock of its own, a time-to-accuracy stop),
 * memory-sampled, watching the loss: a non-finite loss, or one 1000× the first, stops training and
 * throws a {@link NumericError} naming the step. Sends progress to the parent at most every 500 ms.
 * `seconds` is the training time, evaluation excluded.
 */
async function trainWatched(
  job: RunJob,
  session: ModelSession,
  data: Dataset,
  seed: number,
): Promise<{ result: RecipeRun; seconds: number; memory: MemoryFigure[]; absent: AbsentSource[] }> {
  const exp = job.experiment;
  let numeric: NumericError | undefined;
  let firstLoss: number | undefined;
  let lastReport = Number.NEGATIVE_INFINITY; // the first step always reports
  let evaluated: ProgressInfo['evaluated'];
  // Progress counts training time only: evaluation between epochs is off this clock too.
  let evalMs = 0;
  let evalStart = 0;
  const epochs = epochsToRun(exp.training);
  const mem = startMemorySampler({ intervalMs: 50 });
  const t0 = performance.now();
  const result = await runRecipe(session, {
    exp,
    data,
    seed,
    onEvaluate: (running) => {
      if (running) evalStart = performance.now();
      else evalMs += performance.now() - evalStart;
      enter(running ? 'evaluate' : 'train');
    },
    onPoint: (p) => {
      evaluated = { epoch: p.epoch, accuracy: p.accuracy, loss: p.loss };
    },
    onStep: (info) => {
      if (info.loss !== undefined) {
        firstLoss ??= info.loss;
        const diverged = Number.isFinite(info.loss) && firstLoss > 0 && info.loss > 1e3 * firstLoss;
        if (!Number.isFinite(info.loss) || diverged) {
          numeric = new NumericError(
            `${diverged ? 'training diverged' : `loss is ${info.loss}`} at epoch ${info.epoch + 1}, step ${info.step + 1} (first loss ${firstLoss})`,
            info.step,
            info.epoch,
          );
          return 'stop';
        }
      }
      const now = performance.now();
      if (now - lastReport > 500) {
        lastReport = now;
        const done = info.epoch * info.stepsPerEpoch + info.step + 1;
        const trainSeconds = (now - t0 - evalMs) / 1000;
        void send({
          type: 'progress',
          info: {
            repeat: job.part,
            repeats: job.parts,
            epoch: info.epoch,
            epochs,
            step: info.step,
            stepsPerEpoch: info.stepsPerEpoch,
            loss: info.loss,
            imagesPerSecond: (done * exp.training.batchSize) / trainSeconds,
            elapsedSeconds: trainSeconds,
            ...(evaluated ? { evaluated } : {}),
          },
        });
      }
      return undefined;
    },
  });
  const seconds = result.trainSeconds;
  const memory = await mem.stop();
  if (numeric) throw numeric;
  return { result, seconds, memory, absent: mem.absent };
}

/** The record's error for what a case threw, in the phase it was in; an ExpbenchError keeps its code and hint. */
function caseErrorOf(e: unknown): CaseError {
  const err = e as Error;
  const error: CaseError = {
    code: e instanceof ExpbenchError ? e.code : 'BACKEND',
    // The hint says what to do (e.g. which command fetches missing data): keep it with the message.
    message:
      e instanceof ExpbenchError && e.hint && !err.message.includes(e.hint)
        ? `${err.message}. Hint: ${e.hint}`
        : (err?.message ?? String(e)),
    phase: currentPhase,
  };
  if (e instanceof NumericError) {
    error.step = e.step;
    error.epoch = e.epoch;
  }
  return error;
}

async function probeAll(ids: string[]): Promise<Record<string, Availability>> {
  const { probeBackend } = await import('../backends/registry.ts');
  const out: Record<string, Availability> = {};
  for (const id of ids) {
    const a = await probeBackend(id as `${string}/${string}`);
    out[id] = a.available ? { available: true, detail: a.detail } : { available: false, reason: a.reason };
  }
  return out;
}

// If the runner goes away (Ctrl-C, a killed test worker), so does the case: never train on as an orphan.
process.on('disconnect', () => process.exit(130));

process.on('message', (msg: ParentMessage) => {
  void (async () => {
    if (msg.type === 'probe') {
      await send({ type: 'probed', results: await probeAll(msg.backends) });
    } else if (msg.type === 'run') {
      const record = await runCaseInProcess(msg.job);
      await send({ type: 'record', record });
    }
    // Native runtimes may keep handles (thread pools, GPU devices) alive: leave explicitly.
    process.exit(0);
  })();
});
