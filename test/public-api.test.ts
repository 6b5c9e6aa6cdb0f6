/** The package entry points resolve and export what the README and docs name. */
import { expect, test } from 'vitest';

test('expbench and expbench/plugin export the plugin, loader, runner and reporters', async () => {
  const api = await import('expbench');
  for (const name of [
    'expbench',
    'ExpbenchReporter',
    'loadExperiment',
    'parseExperiment',
    'expandCases',
    'runCase',
    'loadRecords',
    'writeReport',
    'getBackend',
  ]) {
    expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
  }
  const plugin = await import('expbench/plugin');
  expect(plugin.expbench().name).toBe('expbench');
});
