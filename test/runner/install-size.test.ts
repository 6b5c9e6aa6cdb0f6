/** Install sizes: every file under a package's folder in the nearest node_modules, links not followed. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { packageSizes } from '../../src/runner/install-size.ts';

const root = mkdtempSync(join(tmpdir(), 'expbench-install-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('sums the bytes of each package found above the starting folder, nested folders included', async () => {
  const pkg = join(root, 'node_modules', '@scope', 'pkg');
  mkdirSync(join(pkg, 'bin', 'linux'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{}'); // 2 bytes
  writeFileSync(join(pkg, 'bin', 'linux', 'lib.so'), Buffer.alloc(1000));
  symlinkSync(join(pkg, 'bin'), join(pkg, 'link')); // not followed
  mkdirSync(join(root, 'node_modules', 'other'), { recursive: true });
  writeFileSync(join(root, 'node_modules', 'other', 'index.js'), 'x'.repeat(10));
  const deep = join(root, 'src', 'a');
  mkdirSync(deep, { recursive: true });
  expect(await packageSizes(['other', '@scope/pkg', 'missing'], deep)).toEqual({ '@scope/pkg': 1002, other: 10 });
});
