/**
 * ADE on scale sets end to end against the simulator, through the ScaleSetAdapter and the pure core: assess the
 * scale set, put the single-pass extension on its model, upgrade instances per the upgrade policy (updateInstances
 * only under Manual), verify every instance; a Flexible set is skipped with the reason.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceGraphAdapter } from '../../azure/resource-graph';
import { ScaleSetAdapter } from '../../azure/scale-sets';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { assessScaleSet, describeAssessment } from '../../core/eligibility';
import { buildAdeExtension } from '../../core/extension-settings';
import { needsManualUpgrade, scaleSetProgress, type ScaleSetProgress } from '../../core/scale-set';
import type { Simulator } from '../../local/azure-sim/index';
import { FAST_POLL, startArmSim } from '../azure-sim/arm/arm-helpers';
import { flexibleScaleSet, uniformScaleSet } from '../fixtures/scale-set-bodies';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
let adapter: ScaleSetAdapter;
let vault: { url: string; resourceId: string };
const RG = 'rg-ss-e2e';

/** What an orchestration does for one scale set; returns the final per-instance progress and the calls it made. */
async function encryptScaleSet(scaleSetId: string, env: Record<string, string>) {
  const policy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sim.seed.subscriptionId, ...env }));
  const set = await adapter.getScaleSet(scaleSetId);
  const assessment = assessScaleSet(set, policy);
  if (assessment.decision !== 'encrypt') return { assessment, calls: [] as string[] };
  const extension = buildAdeExtension({
    os: set.osType!,
    mode: 'single-pass',
    vault,
    volumeType: policy.volumeType,
    sequenceVersion: crypto.randomUUID(),
  });
  const calls = ['putModelExtension'];
  await adapter.beginPutModelExtension(scaleSetId, extension.name, extension);
  let progress: ScaleSetProgress | undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    progress = scaleSetProgress(await adapter.instanceStatuses(scaleSetId), policy.volumeType);
    calls.push('instanceStatuses');
    if (progress.done || progress.failed.length > 0 || Date.now() > deadline) break;
    const current = await adapter.getScaleSet(scaleSetId);
    if (current.provisioningState === 'Succeeded' && needsManualUpgrade(current.upgradeMode, progress)) {
      await adapter.beginUpdateInstances(scaleSetId, progress.stale);
      calls.push(`updateInstances:${progress.stale.join(',')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { assessment, progress, calls };
}

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  adapter = new ScaleSetAdapter(credential);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const created = await new KeyVaultManagementClient(credential, sim.seed.subscriptionId).vaults.beginCreateOrUpdateAndWait(
    RG,
    'kv-ss-e2e',
    {
      location: 'westeurope',
      properties: {
        tenantId: sim.seed.tenantId,
        sku: { family: 'A', name: 'standard' },
        enabledForDiskEncryption: true,
        accessPolicies: [],
      },
    },
    FAST_POLL,
  );
  vault = { url: 'https://kv-ss-e2e.vault.azure.net', resourceId: created.id! };
});
afterAll(async () => {
  await sim?.stop();
});

describe('ADE on scale sets (adapter + core against the simulator)', () => {
  it.each([
    { os: 'Windows' as const, upgrade: 'Manual' as const, env: {} as Record<string, string>, manual: true },
    { os: 'Linux' as const, upgrade: 'Automatic' as const, env: { ADE_VOLUME_TYPE: 'Data', ADE_OS_FILTER: 'linux' }, manual: false },
  ])('Uniform $os set, $upgrade upgrade: every instance ends encrypted', async ({ os, upgrade, env, manual }) => {
    const name = `ss-${os.toLowerCase()}`;
    const set = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, name, uniformScaleSet(os, upgrade), FAST_POLL);
    const { assessment, progress, calls } = await encryptScaleSet(set.id!, env);
    expect(assessment).toMatchObject({ decision: 'encrypt', mode: 'single-pass' });
    expect(progress).toMatchObject({ done: true, byInstance: { '0': 'encrypted', '1': 'encrypted' }, failed: [] });
    expect(calls.some((c) => c.startsWith('updateInstances'))).toBe(manual);
    if (manual) expect(calls).toContain('updateInstances:0,1');
    const model = await adapter.getScaleSet(set.id!);
    expect(model.extensions.map((e) => [e.type, e.typeHandlerVersion])).toEqual([
      [os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux', os === 'Windows' ? '2.2' : '1.1'],
    ]);
    // Once encrypted, the set is reported as such (no second run).
    expect(assessScaleSet(model, toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sim.seed.subscriptionId, ...env })))).toMatchObject({
      decision: 'already-encrypted',
    });
  });

  it('a Flexible set is skipped with the reason; its VMs are standard VMs', async () => {
    const flex = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-flex', flexibleScaleSet(), FAST_POLL);
    const { assessment, calls } = await encryptScaleSet(flex.id!, {});
    expect(assessment).toMatchObject({ decision: 'skip', reason: 'scale-set-flexible' });
    expect(describeAssessment(assessment)).toMatch(/standard virtual machines/);
    expect(calls).toEqual([]);
  });

  it('the sweep finds scale sets through Resource Graph, assessed as from an ARM read', async () => {
    const graph = new ResourceGraphAdapter(credential);
    const sets = await graph.scaleSets([sim.seed.subscriptionId]);
    const policy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sim.seed.subscriptionId }));
    const byName = Object.fromEntries(sets.map((s) => [s.name, assessScaleSet(s, policy).decision]));
    expect(byName).toMatchObject({ 'ss-windows': 'already-encrypted', 'ss-flex': 'skip' });
    for (const set of sets) {
      const fromArm = await adapter.getScaleSet(set.id);
      expect({ ...set, provisioningState: '' }).toEqual({ ...fromArm, provisioningState: '' });
    }
  });

  it('refuses an id that is not a scale set, naming the field', async () => {
    await expect(
      adapter.getScaleSet(`/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/x`),
    ).rejects.toMatchObject({ field: 'scaleSetId' });
  });
});
