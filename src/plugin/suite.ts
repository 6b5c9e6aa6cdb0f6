/**
 * What an experiment file becomes inside Vitest:
 *
 *     describe(<experiment>)
 *       describe(<backend>)          one child process per backend runs the whole case
 *         test('build+init') test('train') test('infer') test('accuracy') test('parity') test('regression')
 *
 * Test names are stable (no sizes in them), so `-t "vgg-small onnxruntime/cpu"` style filters and
 * baseline keys survive a change of profile. An unavailable backend becomes one skipped test whose name
 * carries the reason, and a skipped record so reports show it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expandCases, loadExperiment } from '../config/load.ts';
import type { Case, Experiment } from '../config/types.ts';
import { writeJsonAtomic } from '../runner/atomic.ts';
import { readBaseline } from '../runner/baseline.ts';
import { probeInChild, recordFileName, runCase, skippedRecord } from '../runner/case.ts';
import { applyChecks, type BaselineSource, evaluateChecks, failedByChecks } from '../runner/checks.ts';
import { collectEnvironment } from '../runner/env.ts';
import { createProgress } from '../runner/progress.ts';
import type { CaseCheck, ResultRecord } from '../runner/record.ts';
import { PHASE_SHORT_LABELS as PHASE_TITLES, TIMED_PHASES } from '../vocab/phases.ts';
import { timeToAccuracyFailures, timeToAccuracyNotJudged } from '../runner/recipe-record.ts';
import { runSettings } from './settings.ts';

/** Declares the Vitest suite of one experiment file. */
export async function defineExperimentSuite(file: string): Promise<void> {
  const settings = runSettings();
  const exp = loadExperiment(file, { profile: settings.profile });
  const cases = expandCases(exp).filter((c) => settings.backendFilter(c.backend));
  const availability = await probeInChild([...new Set(cases.map((c) => c.backend))]);
  // Unavailable backends still leave a record, so reports show "skipped: <reason>" instead of a gap.
  // Written now: Vitest runs no hook of a block whose only test is skipped.
  for (const c of cases) {
    const a = availability[c.backend];
    if (a && !a.available) {
      const rec = skippedRecord(c, settings.runId, a.reason, await collectEnvironment());
      await writeJsonAtomic(join(settings.resultsDir, recordFileName(c.key)), rec);
    }
  }

  const defineBackends = (group: Case[]): void => {
    for (const c of group) {
      const a = availability[c.backend] ?? { available: false, reason: 'not probed' };
      if (!a.available) {
        describe(c.backend, () => {
          test.skip(`skipped: ${a.reason}`, () => {});
        });
        continue;
      }
      defineCase(c, c.experiment, settings);
    }
  };
  describe(exp.name, () => {
    if (cases.length === 0) {
      // Vitest fails a file that declares no test; a filter that leaves nothing here is a choice, not an error.
      const all = [...new Set(expandCases(exp).map((c) => c.backend))];
      test.skip(`skipped: none of this file's backends (${all.join(', ')}) matches EXPBENCH_BACKENDS=${process.env.EXPBENCH_BACKENDS ?? ''}`, () => {});
      return;
    }
    if (!exp.matrix) return defineBackends(cases);
    for (const { label } of exp.matrix.points)
      describe(label, () => defineBackends(cases.filter((c) => c.point === label)));
  });
}

function defineCase(c: Case, exp: Experiment, settings: ReturnType<typeof runSettings>): void {
  describe(c.backend, () => {
    let record: ResultRecord | undefined;
    const progress = createProgress();
    beforeAll(
      async () => {
        record = await runCase(c, {
          runId: settings.runId,
          resultsDir: settings.resultsDir,
          onProgress: (p) => progress.update({ ...p, label: `${c.key} (${p.repeat + 1}/${p.repeats})` }),
          echo: settings.echo,
          // The checks are judged once, into the record; the tests below only read them.
          evaluate: async (r) =>
            applyChecks(r, evaluateChecks(r, exp.expect, await baselineSource(settings.baselineFile))),
        });
      },
      (exp.timeout + 120) * 1000,
    );
    afterAll(() => progress.done());

    const get = (): ResultRecord => {
      if (!record) throw new Error(`${c.key}: no result record (the case did not run)`);
      return record;
    };
    /** The test that showed the case's error in full; the case's later tests refer to it. */
    let reportedIn: string | undefined;
    /** Fails with the case's error when it ended before or in `phase`. */
    const requireReached = (r: ResultRecord, phase: string): void => {
      if ((r.status === 'crashed' || r.status === 'failed') && !failedByChecks(r)) {
        const e = r.error;
        if (reportedIn !== undefined)
          throw new Error(
            `${c.key}: ${r.status} [${e.code}], shown in full under "${reportedIn}"\n(${phase} not measured)`,
          );
        reportedIn = phase;
        const where = e.phase ? ` in phase ${e.phase}` : '';
        const extra = [
          e.signal ? `signal ${e.signal}` : '',
          e.exitCode !== undefined && e.exitCode !== null ? `exit code ${e.exitCode}` : '',
          e.step !== undefined ? `epoch ${(e.epoch ?? 0) + 1}, step ${e.step + 1}` : '',
        ].filter(Boolean);
        const tail = e.stderrTail ? `\n--- stderr (tail) ---\n${e.stderrTail.trim()}` : '';
        throw new Error(
          `${c.key}: ${r.status}${where} [${e.code}]${extra.length ? ` (${extra.join(', ')})` : ''}: ${e.message}${tail}\n(${phase} not measured)`,
        );
      }
    };
    /** Throws with the reasons of the record's failed checks that `pick` selects. */
    const assertChecks = (r: ResultRecord, pick: (k: CaseCheck) => boolean, lead = ''): CaseCheck[] => {
      const mine = (r.checks ?? []).filter(pick);
      const failed = mine.filter((k) => k.verdict === 'failed');
      if (failed.length) throw new Error(`${c.key}: ${lead}${failed.map((k) => k.reason).join('\n')}`);
      return mine;
    };

    // An experiment without training has no train phase to test.
    for (const phase of TIMED_PHASES.filter((p) => exp.trains || p !== 'train')) {
      test(PHASE_TITLES[phase], () => {
        const r = get();
        requireReached(r, PHASE_TITLES[phase]);
        expect(r.phases[phase]?.samples.length, `${c.key}: no ${PHASE_TITLES[phase]} samples`).toBeGreaterThan(0);
        // A phase's own time and memory budgets; the whole-case device memory budget goes with training,
        // where device memory peaks.
        assertChecks(
          r,
          (k) =>
            ((k.kind === 'time' || k.kind === 'memory') && k.phase === phase) ||
            (phase === 'train' && k.kind === 'memory' && k.phase === undefined),
        );
      });
    }

    test('accuracy', () => {
      const r = get();
      requireReached(r, 'accuracy');
      assertChecks(r, (k) => k.kind === 'accuracy');
      expect(r.accuracy?.samples.length ?? 0).toBeGreaterThan(0);
    });

    if (exp.expect.timeToAccuracy)
      test('time to accuracy', (ctx) => {
        const r = get();
        requireReached(r, 'time to accuracy');
        const fails = timeToAccuracyFailures(r);
        if (fails.length) throw new Error(`${c.key}: ${fails.join('\n')}`);
        expect(r.timeToAccuracy?.samples.length ?? 0).toBeGreaterThan(0);
        const truncated = timeToAccuracyNotJudged(r);
        if (truncated.length === r.timeToAccuracy?.samples.length) ctx.skip(truncated.join('; '));
      });
    // One test per metric bound of expect:, named by the metric (`expect latency.p99`), asserting its check.
    for (const bound of exp.expect.metrics ?? []) {
      test(`expect ${bound.metric}`, () => {
        const r = get();
        requireReached(r, bound.metric);
        const [check] = assertChecks(r, (k) => k.id === `metric.${bound.metric}`);
        expect(check, `${c.key}: no check of ${bound.metric} in the record`).toBeDefined();
      });
    }

    test('parity', (ctx) => {
      const r = get();
      const [parity] = assertChecks(r, (k) => k.kind === 'parity');
      if (!parity) requireReached(r, 'parity');
      if (parity?.verdict !== 'passed') ctx.skip(parity?.reason ?? 'parity not run');
    });

    test('regression', (ctx) => {
      const r = get();
      requireReached(r, 'regression');
      const checks = assertChecks(r, (k) => k.kind === 'regression', 'significant regression against the baseline\n');
      if (!checks.some((k) => k.verdict === 'passed'))
        ctx.skip(checks.map((k) => k.reason).join('; ') || 'nothing to compare');
    });
  });
}

/** The baseline the regression checks compare with; a corrupt file fails the checks, naming it. */
async function baselineSource(path: string): Promise<BaselineSource> {
  try {
    return { kind: 'file', path, file: await readBaseline(path) };
  } catch (e) {
    return { kind: 'unreadable', path, error: (e as Error).message };
  }
}
