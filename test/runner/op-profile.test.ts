/**
 * Asking for per-operator profiles: `profile: true` in the experiment file (a located error for
 * anything but a boolean), or `EXPBENCH_PROFILE_OPS=1` (what `expbench run --profile-ops` sets) for
 * every experiment; neither by default.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseExperiment } from '../../src/config/index.ts';
import { PROFILE_OPS_ENV, profileRequested } from '../../src/runner/op-profile.ts';

const BASE = `name: mini
dataset: { kind: synthetic, train: 256, test: 64 }
model: { arch: vgg-small }
backends: [tfjs/cpu]
`;

describe('profile requests', () => {
  it('come from the experiment file or the environment', () => {
    const plain = parseExperiment(BASE, 'p.experiment.yaml', { profile: null });
    const asked = parseExperiment(`${BASE}profile: true\n`, 'p.experiment.yaml', { profile: null });
    expect(plain.profileOps).toBeUndefined();
    expect(asked.profileOps).toBe(true);
    expect(profileRequested(plain, {})).toBe(false);
    expect(profileRequested(asked, {})).toBe(true);
    expect(profileRequested(plain, { [PROFILE_OPS_ENV]: '1' })).toBe(true);
    expect(profileRequested(plain, { [PROFILE_OPS_ENV]: '0' })).toBe(false);
  });

  it('rejects a non-boolean with the file, line and column', () => {
    let err: unknown;
    try {
      parseExperiment(`${BASE}profile: 5\n`, 'p.experiment.yaml', { profile: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/p\.experiment\.yaml:5:10/);
    expect((err as ConfigError).message).toMatch(/per-operator profile/);
  });
});
