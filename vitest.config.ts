import { defineConfig } from 'vitest/config';
import { expbench } from './src/plugin/index.ts';
import { ensureRunId } from './src/plugin/settings.ts';
import { ExpbenchReporter } from './src/reporters/vitest-reporter.ts';

// One run id for the whole run: set here, in the main process, before any worker starts.
ensureRunId();

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
          include: ['experiments/**/*.experiment.yaml'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
        },
      },
    ],
  },
});
