/**
 * Vitest's `-t` filter matches a test's full name: the experiment, the architecture when it sweeps,
 * the backend and the test, joined by spaces (`smoke onnxruntime/cpu train`). A filter that selects
 * nothing would otherwise skip every test and exit 0, so the plugin adds {@link NameFilterReporter},
 * which says so and fails the run; the report is not rewritten from such a run.
 */
import type { TestModule, Vitest } from 'vitest/node';
import type { Reporter } from 'vitest/reporters';

/** When a name filter is set and no test ran: up to three test names, to show what names look like. */
export function nameFilterMatchedNothing(
  pattern: RegExp | undefined,
  modules: ReadonlyArray<TestModule>,
): { examples: string[] } | null {
  if (!pattern || modules.length === 0) return null;
  const examples: string[] = [];
  for (const m of modules) {
    for (const t of m.children.allTests()) {
      const state = t.result().state;
      if (state === 'passed' || state === 'failed') return null;
      if (examples.length < 3) examples.push(t.fullName.replaceAll(' > ', ' '));
    }
  }
  return { examples };
}

/** Fails a run whose `-t` filter selected no test, naming the filter and showing real test names. */
export class NameFilterReporter implements Reporter {
  private pattern: RegExp | undefined;

  onInit(vitest: Vitest): void {
    this.pattern = vitest.config.testNamePattern;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const nothing = nameFilterMatchedNothing(this.pattern, modules);
    if (!nothing || !this.pattern) return;
    const shown = this.pattern.source.replaceAll('\\/', '/');
    process.stderr.write(
      `expbench: the test name filter -t ${JSON.stringify(shown)} matched no test, so nothing ran\n` +
        `hint: test names are "<experiment> [<arch>] <backend> <test>" (${nothing.examples.map((n) => JSON.stringify(n)).join(', ')}); ` +
        'give the parts separated by spaces, e.g. -t "smoke onnxruntime/cpu"\n',
    );
    process.exitCode = 1;
  }
}
