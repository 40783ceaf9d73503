/**
 * encryptVmss activities follow the app's configuration, never the run's input: dry run, scope and exclusions, the
 * app's own vault, the volume type and the upgrade policy are re-checked against the app's policy and a fresh read of
 * the scale set before any write.
 */
import { describe, expect, it } from 'vitest';
import type { ScaleSetPort } from '../../azure/scale-sets';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { buildAdeExtension } from '../../core/extension-settings';
import { vaultNamesFor } from '../../core/names';
import { formatKeyVaultResourceId } from '../../core/resource-ids';
import type { ScaleSetSnapshot } from '../../core/vm';
import { createScaleSetActivities } from '../../orchestrations/scale-set-activities';

const SUB = '11111111-1111-1111-1111-111111111111';
const ID = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachineScaleSets/ss`;

function model(patch: Partial<ScaleSetSnapshot> = {}): ScaleSetSnapshot {
  return {
    id: ID,
    name: 'ss',
    resourceGroup: 'rg-app',
    subscriptionId: SUB,
    location: 'westeurope',
    orchestrationMode: 'Uniform',
    upgradeMode: 'Manual',
    capacity: 2,
    provisioningState: 'Succeeded',
    tags: {},
    osType: 'Windows',
    vmSize: 'Standard_D2s_v5',
    managedDisks: true,
    osDisk: { name: '' },
    dataDisks: [],
    extensions: [],
    imageReference: { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter', version: 'latest' },
    ...patch,
  };
}

function setup(env: Record<string, string> = {}, patch: Partial<ScaleSetSnapshot> = {}) {
  const config = loadConfig({ ADE_SUBSCRIPTIONS: SUB, ...env });
  const policy = toEncryptionPolicy(config);
  const writes: string[] = [];
  const port: ScaleSetPort = {
    getScaleSet: async () => model(patch),
    beginPutModelExtension: async (id, name) => {
      writes.push(`put ${name}`);
      return { extensionId: `${id}/extensions/${name}` };
    },
    beginUpdateInstances: async (_id, ids) => {
      writes.push(`upgrade ${ids.join(',')}`);
    },
    instanceStatuses: async () => [],
  };
  const heal = { action: config.remediation.healAction };
  const activities = createScaleSetActivities({ scaleSets: port, policy, heal, log: () => undefined });
  const name = vaultNamesFor(policy.vault, { id: ID, subscriptionId: SUB, location: 'westeurope' })[0]!;
  const ownVault = { url: `https://${name}.vault.azure.net`, resourceId: formatKeyVaultResourceId(SUB, policy.vault.resourceGroup, name) };
  const extension = (vault = ownVault, volumeType = policy.volumeType) =>
    buildAdeExtension({ os: 'Windows', mode: 'single-pass', vault, volumeType, sequenceVersion: '00000000-0000-4000-8000-000000000000' });
  return { activities, writes, extension, policy };
}

describe('encryptVmss activities', () => {
  it('put the extension and upgrade instances for a set the app encrypts', async () => {
    const { activities, writes, extension } = setup();
    expect(await activities.scaleSetDeployExtension({ scaleSetId: ID, extension: extension() })).toMatchObject({ ok: true });
    expect(await activities.scaleSetUpdateInstances({ scaleSetId: ID, instanceIds: ['0', '1', '1', 'x'] })).toEqual({
      ok: true,
      value: { requested: ['0', '1'] },
    });
    expect(writes).toEqual(['put AzureDiskEncryption', 'upgrade 0,1']);
  });

  const foreign = {
    url: 'https://someone-else.vault.azure.net',
    resourceId: formatKeyVaultResourceId(SUB, 'rg-other', 'someone-else'),
  };
  it.each([
    { name: 'the app is in dry run', env: { ADE_DRY_RUN: 'true' }, patch: {}, why: /ADE_DRY_RUN is on/ },
    {
      name: 'the set carries the exclusion tag',
      env: {},
      patch: { tags: { 'ade-autopilot': 'skip' } },
      why: /^Refused .*excluded|^Refused .*skip/i,
    },
    {
      name: 'the set is Flexible',
      env: {},
      patch: { orchestrationMode: 'Flexible' as const },
      why: /^Refused .*standard virtual machines/,
    },
    { name: 'the vault is not the app’s', env: {}, patch: {}, why: /not the app's own/, vault: foreign },
    { name: 'the volume type is not the app’s', env: {}, patch: {}, why: /^Refused volume type OS/, volumeType: 'OS' as const },
  ])('refuse every write when $name', async ({ env, patch, why, vault, volumeType }) => {
    const { activities, writes, extension } = setup(env as Record<string, string>, patch);
    const put = await activities.scaleSetDeployExtension({ scaleSetId: ID, extension: extension(vault, volumeType) });
    expect(put).toMatchObject({ ok: false, error: { message: expect.stringMatching(why) } });
    if (vault === undefined && volumeType === undefined)
      expect(await activities.scaleSetUpdateInstances({ scaleSetId: ID, instanceIds: ['0'] })).toMatchObject({ ok: false });
    expect(writes).toEqual([]);
  });

  it('ADE_HEAL_ACTION=notify-only: the extension goes on the model, no instance is upgraded; inspect tells the run', async () => {
    const { activities, writes, extension } = setup({ ADE_HEAL_ACTION: 'notify-only' });
    expect(await activities.scaleSetDeployExtension({ scaleSetId: ID, extension: extension() })).toMatchObject({ ok: true });
    expect(await activities.scaleSetUpdateInstances({ scaleSetId: ID, instanceIds: ['0'] })).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/notify-only/) },
    });
    expect(writes).toEqual(['put AzureDiskEncryption']);
    expect(await activities.scaleSetInspect({ scaleSetId: ID })).toMatchObject({ ok: true, value: { heal: { action: 'notify-only' } } });
  });

  it('refuse to upgrade instances of an Automatic set (Azure does it)', async () => {
    const { activities, writes } = setup({}, { upgradeMode: 'Automatic' });
    expect(await activities.scaleSetUpdateInstances({ scaleSetId: ID, instanceIds: ['0'] })).toMatchObject({ ok: false });
    expect(writes).toEqual([]);
  });

  it('inspect hands the run the app’s policy; on a Linux set All means the data volumes', async () => {
    const { activities } = setup(
      {},
      {
        osType: 'Linux',
        dataDisks: [{ lun: 0, name: '' }],
        imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
      },
    );
    const inspected = await activities.scaleSetInspect({ scaleSetId: ID });
    expect(inspected).toMatchObject({ ok: true, value: { assessment: { decision: 'encrypt' }, policy: { volumeType: 'Data' } } });
  });
});
