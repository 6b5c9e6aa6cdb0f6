/**
 * The Vite/Vitest plugin: turns every `*.experiment.yaml` Vitest picks up into a test module that
 * declares the experiment's cases. The YAML is parsed when the module runs (not here), so a broken
 * file fails its own test file with the located error while every other file still runs.
 */
/// <reference types="vitest/config" />
import type { Plugin } from 'vite';
import { fileURLToPath } from 'node:url';
import { NameFilterReporter } from './name-filter.ts';

const SUITE = fileURLToPath(new URL('./suite.ts', import.meta.url));

export interface ExpbenchPluginOptions {
  /**
   * Which files are experiments.
   * @default /\.experiment\.ya?ml$/
   */
  include?: RegExp;
}

export function expbench(options: ExpbenchPluginOptions = {}): Plugin {
  const include = options.include ?? /\.experiment\.ya?ml$/;
  return {
    name: 'expbench',
    enforce: 'pre',
    configureVitest({ vitest }) {
      // Once per run, though the plugin is configured once per project.
      if (!vitest.config.reporters.some((r) => r instanceof NameFilterReporter))
        vitest.config.reporters.push(new NameFilterReporter());
    },
    transform(_code, id) {
      const file = id.split('?')[0]!;
      if (!include.test(file)) return null;
      return {
        code: `import { defineExperimentSuite } from ${JSON.stringify(SUITE)};\nawait defineExperimentSuite(${JSON.stringify(file)});\n`,
        map: { mappings: '' },
      };
    },
  };
}

export default expbench;
