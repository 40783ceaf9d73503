import { describe, expect, it } from 'vitest';
import { instanceVerdict, needsManualUpgrade, scaleSetProgress, type ScaleSetInstanceStatus } from '../../core/scale-set';

const ENC = 'EncryptionState/encrypted';
const NOT = 'EncryptionState/notEncrypted';
const ok = 'ProvisioningState/succeeded';
const row = (over: Partial<ScaleSetInstanceStatus> = {}): ScaleSetInstanceStatus => ({
  instanceId: '0',
  latestModelApplied: true,
  adeStatusCode: ok,
  diskStates: [ENC, ENC],
  ...over,
});

describe('instanceVerdict', () => {
  it.each([
    { name: 'all disks encrypted', i: row(), volumeType: 'All' as const, verdict: 'encrypted' },
    {
      name: 'data volumes only, OS disk not encrypted',
      i: row({ diskStates: ['none', ENC] }),
      volumeType: 'Data' as const,
      verdict: 'encrypted',
    },
    { name: 'a data disk not yet encrypted', i: row({ diskStates: [ENC, NOT] }), volumeType: 'All' as const, verdict: 'pending' },
    { name: 'OS only, data disk untouched', i: row({ diskStates: [ENC, 'none'] }), volumeType: 'OS' as const, verdict: 'encrypted' },
    { name: 'older model', i: row({ latestModelApplied: false, adeStatusCode: undefined }), volumeType: 'All' as const, verdict: 'stale' },
    {
      name: 'extension still transitioning',
      i: row({ adeStatusCode: 'ProvisioningState/transitioning' }),
      volumeType: 'All' as const,
      verdict: 'pending',
    },
    { name: 'extension failed', i: row({ adeStatusCode: 'ProvisioningState/failed' }), volumeType: 'All' as const, verdict: 'failed' },
    {
      name: 'failed on an older model is still failed',
      i: row({ latestModelApplied: false, adeStatusCode: 'ProvisioningState/failed' }),
      volumeType: 'All' as const,
      verdict: 'failed',
    },
  ])('$name → $verdict', ({ i, volumeType, verdict }) => {
    expect(instanceVerdict(i, volumeType)).toBe(verdict);
  });
});

describe('scaleSetProgress', () => {
  it('lists stale and failed instances; done only when every instance is encrypted', () => {
    const progress = scaleSetProgress(
      [
        row({ instanceId: '0' }),
        row({ instanceId: '1', latestModelApplied: false, adeStatusCode: undefined }),
        row({ instanceId: '2', adeStatusCode: 'ProvisioningState/failed', adeStatusMessage: 'boom' }),
      ],
      'All',
    );
    expect(progress).toEqual({
      done: false,
      byInstance: { '0': 'encrypted', '1': 'stale', '2': 'failed' },
      stale: ['1'],
      failed: [{ instanceId: '2', message: 'boom' }],
    });
    expect(scaleSetProgress([row({ instanceId: '0' }), row({ instanceId: '1' })], 'All').done).toBe(true);
  });

  it.each([
    { mode: 'Manual' as const, stale: true, expected: true },
    { mode: 'Manual' as const, stale: false, expected: false },
    { mode: 'Automatic' as const, stale: true, expected: false },
    { mode: 'Rolling' as const, stale: true, expected: false },
  ])('updateInstances under $mode with stale=$stale: $expected', ({ mode, stale, expected }) => {
    const progress = scaleSetProgress([row({ latestModelApplied: !stale, adeStatusCode: stale ? undefined : ok })], 'All');
    expect(needsManualUpgrade(mode, progress)).toBe(expected);
  });
});
