// A re-executed deploy activity (the host died after ARM accepted the PUT) adopts its own in-progress deployment.
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../core/errors';
import { buildAdeExtension } from '../../core/extension-settings';
import { vaultNamesFor } from '../../core/names';
import { createActivities } from '../../orchestrations/activities';
import { basePolicy, SUB } from './helpers';

const policy = basePolicy();
const VM = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`;
// The app's own vault for this VM: the activity refuses any other.
const vaultName = vaultNamesFor(policy.vault, { id: VM, subscriptionId: SUB, location: 'westeurope' })[0]!;
const VAULT = `/subscriptions/${SUB}/resourceGroups/${policy.vault.resourceGroup}/providers/Microsoft.KeyVault/vaults/${vaultName}`;
const extension = buildAdeExtension({
  os: 'Windows',
  mode: 'single-pass',
  vault: { url: `https://${vaultName}.vault.azure.net`, resourceId: VAULT },
  volumeType: 'All',
  sequenceVersion: 'seq-1',
});
const inProgress = new ConflictError(
  "Operation 'PUT' on extension 'AzureDiskEncryption' is not allowed since an operation on the extension is in progress.",
  { code: 'OperationNotAllowed' },
);

function activitiesWith(deployed: { sequence?: string } | undefined, error: Error = inProgress) {
  const compute = {
    beginDeployExtension: async () => {
      throw error;
    },
    getExtensionInstanceView: async () =>
      deployed ? { name: 'AzureDiskEncryption', settings: { ...extension.settings, SequenceVersion: deployed.sequence } } : undefined,
  };
  return createActivities({ compute, policy, log: () => undefined } as never);
}

describe('deploySinglePassExtension after a crash', () => {
  it.each([
    ['the same SequenceVersion is running: adopted', { sequence: 'seq-1' }, inProgress, true],
    ['another SequenceVersion is running: refused', { sequence: 'other' }, inProgress, false],
    ['no extension found: refused', undefined, inProgress, false],
    ['a different conflict: refused', { sequence: 'seq-1' }, new ConflictError('The VM is being deleted', { code: 'Conflict' }), false],
  ])('%s', async (_what, deployed, error, adopted) => {
    const result = await activitiesWith(deployed, error).deploySinglePassExtension({ vmId: VM, location: 'westeurope', extension });
    expect(result.ok).toBe(adopted);
    if (result.ok) expect(result.value.extensionId).toBe(`${VM}/extensions/AzureDiskEncryption`);
  });
});
