import { defineConfig } from 'vitest/config';
import { expbench } from './src/plugin/index.ts';
import { ensureRunId } from './src/plugin/settings.ts';
import { ExpbenchReporter } from './src/plugin/reporter.ts';

// One run id for the whole run: set here, in the main process, before any worker starts.
ensureRunId();

// Experiments run under plain `vitest run` use the small `ci` profile unless told otherwise, so the
// test suite stays fast; `expbench run` passes its own choice (empty = the files' base values).
const profile = process.env.EXPBENCH_PROFILE ?? 'ci';
const experimentFiles = ['experiments/**/*.experiment.yaml'];

export default defineConfig({
  plugins: [expbench()],
  test: {
    reporters: ['default', new ExpbenchReporter()],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The shipped experiments. They run after the unit tests and one file at a time, so their
        // timings are not taken while other test files compete for the same cores.
        extends: true,
        test: {
          name: 'experiments',
          include: experimentFiles,
          env: { EXPBENCH_PROFILE: profile },
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
        },
      },
      {
        // The same experiments, GPU cases only: `vitest run --project gpu` on a machine with a GPU.
        extends: true,
        test: {
          name: 'gpu',
          include: experimentFiles,
          env: {
            EXPBENCH_PROFILE: profile,
            EXPBENCH_BACKENDS: process.env.EXPBENCH_BACKENDS || 'webgpu,cuda,tensorflow',
          },
          sequence: { groupOrder: 2 },
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
        },
      },
    ],
  },
});
