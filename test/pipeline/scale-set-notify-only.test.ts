/**
 * A Uniform scale set under a Manual upgrade policy when the app's ADE_HEAL_ACTION is notify-only: the app puts ADE on
 * the model but never upgrades instances itself; its run ends ActionRequired with the operator's next step
 * (az vmss update-instances), the backfill sweep reports the same while the instances stay stale, and once the operator
 * has brought them to the model the sweep's run verifies them encrypted, with no manualUpgrade request from the app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleSetInstanceId } from '../../core/names';
import { uniformScaleSet } from '../fixtures/scale-set-bodies';
import { HUB_KEYS, startPipeline, type Pipeline } from './harness';
import { appRequests } from './checks';

let p: Pipeline;
const RG = 'rg-app';

async function latestModelApplied(): Promise<Array<boolean | undefined>> {
  const out = [];
  for await (const vm of p.compute.virtualMachineScaleSetVMs.list(RG, 'ss-notify')) out.push(vm.latestModelApplied);
  return out;
}

async function sweep(name: string) {
  const res = await p.host.fetch(`/api/sweep?code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dryRun: false }),
  });
  expect(res.status, name).toBe(202);
  return p.waitForInstance('sweep-backfill', 60_000);
}

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, settings: { ADE_HEAL_ACTION: 'notify-only' } });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

describe('Manual scale set, ADE_HEAL_ACTION=notify-only', () => {
  it('ends ActionRequired with the next step, and the sweep verifies the set once the operator upgraded it', async () => {
    const set = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-notify', uniformScaleSet('Windows', 'Manual'), {
      updateIntervalInMs: 50,
    });
    const instanceId = scaleSetInstanceId(set.id!);
    const until = Date.now() + 20_000;
    while (!(await p.getInstance(instanceId)) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    const first = await p.waitForInstance(instanceId, 60_000);
    expect(first.output, JSON.stringify(first.output)).toMatchObject({
      outcome: 'action-required',
      reason: expect.stringMatching(/2 instance\(s\) not on the latest model .*ADE_HEAL_ACTION=notify-only/),
      operatorAction:
        `bring the instances to the model (az vmss update-instances -g ${RG} -n ss-notify --instance-ids 0 1); ` +
        'the next backfill sweep verifies them',
    });
    expect(first.output.upgraded).toBeUndefined();
    expect(await latestModelApplied()).toEqual([false, false]);

    // The sweep sees ADE on the model; its run finds the instances still stale and says so again.
    const s1 = await sweep('first sweep');
    expect(s1.output.scaleSets).toMatchObject({ byDecision: { 'already-encrypted': 1 }, started: 1, manualChecks: 1 });
    const second = await p.waitForInstance(instanceId, 60_000);
    expect(second.output).toMatchObject({ outcome: 'action-required' });

    // The operator follows the step; the next sweep's run verifies every instance.
    await p.compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(
      RG,
      'ss-notify',
      { instanceIds: ['0', '1'] },
      { updateIntervalInMs: 50 },
    );
    const s2 = await sweep('second sweep');
    expect(s2.output.scaleSets).toMatchObject({ started: 1, manualChecks: 1 });
    const third = await p.waitForInstance(instanceId, 90_000);
    // Verified from every instance's status: at once if the extension had finished on them, else after its checks.
    if (third.output.outcome === 'already-encrypted') expect(third.output.reason).toMatch(/every instance reports encrypted/);
    else
      expect(third.output, JSON.stringify(third.output)).toMatchObject({
        outcome: 'encrypted',
        instances: { '0': 'encrypted', '1': 'encrypted' },
      });
    expect(third.output.upgraded).toBeUndefined();
    expect(await latestModelApplied()).toEqual([true, true]);
    // The app asked for no instance upgrade at any point.
    expect((await appRequests(p)).filter((x) => /manualupgrade$/i.test(x.path))).toEqual([]);
  }, 240_000);
});
