/**
 * encryptVmss end to end over the local host and the simulator, with the app holding exactly the template's grants:
 * a Uniform Windows scale set under a Manual upgrade policy (the run upgrades its instances) and a Uniform Linux set
 * under Automatic (Azure upgrades them), started by their write events, end encrypted on every instance; a Flexible set
 * gets no run from its write, and a run started for it anyway is skipped as handled per VM: its Windows and Linux
 * members go through the VM pipeline (encryptVm) from their own writes.
 * ADE_VOLUME_TYPE is All: every volume on Windows, the data volumes on Linux (Linux scale sets support nothing else,
 * https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { orchestrationInstanceId, scaleSetInstanceId } from '../../core/names';
import { flexibleScaleSet, uniformScaleSet } from '../fixtures/scale-set-bodies';
import { EVENTS_RG, HUB_KEYS, startPipeline, type Pipeline } from './harness';
import { appRequests, armWrites } from './checks';

let p: Pipeline;
const RG = 'rg-app';
const windowsId = () =>
  `/subscriptions/${p.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss-win`;

async function startRun(scaleSetId: string): Promise<string> {
  const appPolicy = toEncryptionPolicy(loadConfig(process.env));
  const instanceId = scaleSetInstanceId(scaleSetId);
  const res = await p.host.fetch(`/runtime/webhooks/durabletask/orchestrators/encryptVmss/${instanceId}?code=${HUB_KEYS.durable}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // A start carrying another policy (no KEK, other volume type): the run follows the app's own.
    body: JSON.stringify({ scaleSetId, policy: { ...appPolicy, kek: { ...appPolicy.kek, enabled: false }, volumeType: 'OS' } }),
  });
  expect(res.status).toBe(202);
  return instanceId;
}

/** The run a scale set write started, once terminal. */
async function waitStarted(instanceId: string) {
  const until = Date.now() + 20_000;
  while (!(await p.getInstance(instanceId)) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  return p.waitForInstance(instanceId, 90_000);
}

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: true, settings: { ADE_VOLUME_TYPE: 'All' } });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

describe('encryptVmss', () => {
  it('Uniform Windows (Manual) and Linux (Automatic) sets end encrypted on every instance; a Flexible set is handled per VM', async () => {
    const windows = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-win', uniformScaleSet('Windows', 'Manual'), {
      updateIntervalInMs: 50,
    });
    const linux = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-lnx', uniformScaleSet('Linux', 'Automatic'), {
      updateIntervalInMs: 50,
    });
    const flex = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-flex', flexibleScaleSet(), {
      updateIntervalInMs: 50,
    });
    // A Flexible set's members are standard VMs: their own writes start the VM pipeline (encryptVm), one run per member.
    const members = await Promise.all(
      (['Windows', 'Linux'] as const).map((os) => p.createVm(`flex-${os.toLowerCase()}`, { os, scaleSetId: flex.id! })),
    );
    // The scale set writes started the Uniform runs (vmWritten); the Flexible set got none.
    const [w, l] = await Promise.all([windows, linux].map((s) => waitStarted(scaleSetInstanceId(s.id!))));
    const fw = await waitStarted(orchestrationInstanceId(members[0]));
    expect(await p.getInstance(scaleSetInstanceId(flex.id!))).toBeUndefined();
    // Started by hand, its run says why it is skipped.
    const f = await p.waitForInstance(await startRun(flex.id!), 30_000);

    expect(w!.output, JSON.stringify(w!.output)).toMatchObject({
      outcome: 'encrypted',
      osType: 'Windows',
      instances: { '0': 'encrypted', '1': 'encrypted' },
      upgraded: ['0', '1'],
    });
    expect(l!.output, JSON.stringify(l!.output)).toMatchObject({
      outcome: 'encrypted',
      osType: 'Linux',
      instances: { '0': 'encrypted', '1': 'encrypted' },
    });
    expect(l!.output.upgraded).toBeUndefined(); // Automatic: Azure brought the instances to the model
    // The status API answers for the run under the function key.
    const runStatus = await p.host.fetch(`/api/runs/${scaleSetInstanceId(windows.id!)}?code=${HUB_KEYS.function}`);
    expect(runStatus.status).toBe(200);
    expect(await runStatus.json()).toMatchObject({ name: 'encryptVmss', runtimeStatus: 'Completed' });
    expect(f!.output).toMatchObject({ outcome: 'skipped' });
    expect(f!.output.reason).toMatch(/^Skipped: Handled per VM: .*standard virtual machines/);
    // Its Windows member is encrypted as a VM (every volume, the VM extension); its Linux member is a scale set VM, whose
    // OS volume ADE does not encrypt: under ADE_VOLUME_TYPE=All its write is judged unsupported and starts nothing.
    expect(fw!.name).toBe('encryptVm');
    expect(fw!.output, JSON.stringify(fw!.output)).toMatchObject({ outcome: 'encrypted', osType: 'Windows' });
    expect(await p.getInstance(orchestrationInstanceId(members[1]))).toBeUndefined();
    const [winMember, lnxMember] = await Promise.all(
      ['flex-windows', 'flex-linux'].map((n) => p.compute.virtualMachines.get(RG, n, { expand: 'instanceView' })),
    );
    expect(winMember.virtualMachineScaleSet?.id).toBe(flex.id);
    expect(winMember.resources?.map((e) => e.name)).toContain('AzureDiskEncryption');
    expect(lnxMember.resources ?? []).toHaveLength(0);
    const models = await Promise.all(['ss-win', 'ss-lnx'].map((n) => p.compute.virtualMachineScaleSets.get(RG, n)));
    for (const [i, model] of models.entries()) {
      const ade = model.virtualMachineProfile?.extensionProfile?.extensions?.[0];
      expect(ade?.settings).toMatchObject({ VolumeType: i === 0 ? 'All' : 'Data', EncryptionOperation: 'EnableEncryption' });
      expect((ade?.settings as Record<string, string>).KeyEncryptionKeyURL).toMatch(/\/keys\//);
    }
    // One vault for the region, shared through the vault entity; one model PUT per set; one upgrade request.
    const writes = armWrites(await appRequests(p));
    expect(writes.filter((x) => /virtualMachineScaleSets\/[^/]+\/extensions\//i.test(x.path))).toHaveLength(2);
    expect(writes.filter((x) => /\/vaults\/[^/]+$/i.test(x.path))).toHaveLength(1);
    expect((await appRequests(p)).filter((x) => /manualupgrade$/i.test(x.path) && x.status < 400)).toHaveLength(1);

    // The status API lists the scale sets beside the VMs (the Flexible set's Windows member is a VM row).
    const list = await p.host.fetch(`/api/vms?kind=scaleSet&code=${HUB_KEYS.function}`);
    expect(list.status).toBe(200);
    const rows = ((await list.json()) as { vms: Array<Record<string, unknown>> }).vms;
    expect(rows.map((r) => [r.name, r.kind, r.state])).toEqual([
      ['ss-flex', 'scaleSet', 'skipped'],
      ['ss-lnx', 'scaleSet', 'encrypted'],
      ['ss-win', 'scaleSet', 'encrypted'],
    ]);
    expect(rows.find((r) => r.name === 'ss-win')).toMatchObject({ os: 'Windows', instances: { '0': 'encrypted', '1': 'encrypted' } });
    const vmRows = await p.host.fetch(`/api/vms?kind=vm&code=${HUB_KEYS.function}`);
    expect(((await vmRows.json()) as { vms: Array<{ name: string }> }).vms.map((r) => r.name)).toEqual(['flex-windows']);
    const summary = await p.host.fetch(`/api/summary?code=${HUB_KEYS.function}`);
    expect(await summary.json()).toMatchObject({ byKind: { vm: 1, scaleSet: 3 } });
  }, 150_000);

  it('the backfill sweep starts encryptVmss for a set no event reached and brings a Manual set up to its model', async () => {
    await p.eventGrid.systemTopicEventSubscriptions.beginDeleteAndWait(EVENTS_RG, 'subscription-events', 'vm-written', {
      updateIntervalInMs: 50,
    });
    const set = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-late', uniformScaleSet('Windows', 'Automatic'), {
      updateIntervalInMs: 50,
    });
    expect(await p.getInstance(scaleSetInstanceId(set.id!))).toBeUndefined();
    // A Manual set whose model got ADE from someone else (the app's extension, copied): its instances never took it.
    const manual = await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
      RG,
      'ss-manual',
      uniformScaleSet('Windows', 'Manual'),
      {
        updateIntervalInMs: 50,
      },
    );
    const ade = (await p.compute.virtualMachineScaleSets.get(RG, 'ss-win')).virtualMachineProfile!.extensionProfile!.extensions![0]!;
    await p.compute.virtualMachineScaleSetExtensions.beginCreateOrUpdateAndWait(
      RG,
      'ss-manual',
      ade.name!,
      {
        publisher: ade.publisher,
        typePropertiesType: ade.typePropertiesType,
        typeHandlerVersion: ade.typeHandlerVersion,
        settings: ade.settings,
      },
      { updateIntervalInMs: 50 },
    );
    const stale = [];
    for await (const vm of p.compute.virtualMachineScaleSetVMs.list(RG, 'ss-manual')) stale.push(vm.latestModelApplied);
    expect(stale).toEqual([false, false]);
    const res = await p.host.fetch(`/api/sweep?code=${HUB_KEYS.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: false }),
    });
    expect(res.status).toBe(202);
    const sweep = await p.waitForInstance('sweep-backfill', 60_000);
    // ss-win, ss-lnx and ss-manual carry ADE on their models, ss-flex is handled per VM, ss-late needs work; the two
    // Manual sets with ADE on the model get a run that checks their instances.
    expect(sweep.output.scaleSets).toEqual({
      assessed: 5,
      byDecision: { 'already-encrypted': 3, skip: 1, encrypt: 1 },
      started: 3,
      manualChecks: 2,
    });
    const run = await waitStarted(scaleSetInstanceId(set.id!));
    expect(run.output).toMatchObject({ outcome: 'encrypted', instances: { '0': 'encrypted', '1': 'encrypted' } });
    // ss-win's instances are all encrypted: nothing to do. ss-manual's are brought to the model (ADE_HEAL_ACTION=restart).
    const again = await p.waitForInstance(scaleSetInstanceId(windowsId()), 60_000);
    expect(again.output).toMatchObject({ outcome: 'already-encrypted' });
    const fixed = await p.waitForInstance(scaleSetInstanceId(manual.id!), 90_000);
    expect(fixed.output, JSON.stringify(fixed.output)).toMatchObject({
      outcome: 'encrypted',
      upgraded: ['0', '1'],
      instances: { '0': 'encrypted', '1': 'encrypted' },
    });
    const upgradedNow = [];
    for await (const vm of p.compute.virtualMachineScaleSetVMs.list(RG, 'ss-manual')) upgradedNow.push(vm.latestModelApplied);
    expect(upgradedNow).toEqual([true, true]);
  }, 120_000);
});
