/**
 * A Uniform scale set under a Manual upgrade policy when the app's ADE_HEAL_ACTION is maintenance-window: the run puts
 * ADE on the model, then waits on a durable timer for the window's next opening before it asks Azure to upgrade the
 * stale instances; until then no manualUpgrade request is made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleSetInstanceId } from '../../core/names';
import { uniformScaleSet } from '../fixtures/scale-set-bodies';
import { eventually, startPipeline, type Pipeline } from './harness';
import { appRequests } from './checks';

const RG = 'rg-app';

describe('Manual scale set, ADE_HEAL_ACTION=maintenance-window', () => {
  let q: Pipeline;
  // A one-hour window two days from now: never open while the test runs.
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][(new Date().getUTCDay() + 2) % 7]!;
  beforeAll(async () => {
    q = await startPipeline({
      mode: 'single-pass',
      kek: false,
      settings: { ADE_HEAL_ACTION: 'maintenance-window', ADE_MAINTENANCE_WINDOW: `${day} 01:00-02:00` },
    });
  }, 180_000);
  afterAll(async () => {
    await q?.stop();
  });

  it('puts ADE on the model, then waits for the window before upgrading any instance', async () => {
    const set = await q.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-window', uniformScaleSet('Windows', 'Manual'), {
      updateIntervalInMs: 50,
    });
    const instanceId = scaleSetInstanceId(set.id!);
    const waiting = await eventually(
      'the run to wait for the maintenance window',
      async () => {
        const run = await q.getInstance(instanceId);
        return run?.customStatus?.phase === 'waiting-for-window' ? run : undefined;
      },
      60_000,
    );
    expect(waiting.runtimeStatus).toBe('Running');
    expect(waiting.customStatus.detail).toMatch(/instance upgrade waits for the window \(\d{4}-\d\d-\d\dT01:00:00/);
    const model = await q.compute.virtualMachineScaleSets.get(RG, 'ss-window');
    expect(model.virtualMachineProfile?.extensionProfile?.extensions?.map((e) => e.name)).toEqual(['AzureDiskEncryption']);
    const stale = [];
    for await (const vm of q.compute.virtualMachineScaleSetVMs.list(RG, 'ss-window')) stale.push(vm.latestModelApplied);
    expect(stale).toEqual([false, false]);
    expect((await appRequests(q)).filter((x) => /manualupgrade$/i.test(x.path))).toEqual([]);
  }, 120_000);
});
