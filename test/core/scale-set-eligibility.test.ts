import { describe, expect, it } from 'vitest';
import { SKIP_REASONS, UNSUPPORTED_REASONS, assessScaleSet, describeAssessment } from '../../core/eligibility';
import { SCALE_SET_CASES, policy } from '../fixtures/vms/scale-sets';

describe('assessScaleSet', () => {
  it.each(SCALE_SET_CASES)('$name', ({ set, policy: p, expect: expected }) => {
    const result = assessScaleSet(set, p ?? policy);
    expect(result).toMatchObject(expected);
    expect(describeAssessment(result).length).toBeGreaterThan(10);
  });

  it('the scale-set reasons have sentences and are permanent', () => {
    for (const r of ['scale-set-unmanaged-disks', 'scale-set-dual-pass', 'scale-set-encryption-at-host-mode'] as const)
      expect(UNSUPPORTED_REASONS[r].transient).toBe(false);
    expect(SKIP_REASONS['scale-set-flexible'].transient).toBe(false);
  });
});
