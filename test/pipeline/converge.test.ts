/**
 * States between steps that must converge, each driven into the simulator by fault injection or a direct state change,
 * then repaired (or reported) by the app: aad (dual-pass) mode, no Resource Manager events (runs start over HTTP).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, remediationInstanceId } from '../../core/names';
import { HUB_KEYS, startPipeline, type Pipeline } from './harness';
import { vmParts } from './checks';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ mode: 'aad', kek: false, armEvents: false });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

const post = (path: string, body: unknown) =>
  p.host.fetch(`${path}?code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The run of that id created after `after`, once finished. */
async function nextRun(instanceId: string, after: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await p.getInstance(instanceId);
    if (run && run.createdTime !== after && ['Completed', 'Failed', 'Terminated'].includes(run.runtimeStatus)) return run;
    if (Date.now() > deadline) throw new Error(`no new run of ${instanceId} finished`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function model(vmId: string) {
  const { resourceGroup, name } = vmParts(vmId);
  return p.compute.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' });
}

describe('dual-pass VM encrypted in the guest without model encryptionSettings', () => {
  it('is not called healthy: the remediation re-applies the settings from the secret URL the extension reports', async () => {
    const vmId = await p.createVm('no-model', { os: 'Linux' });
    // The second pass (the model PATCH) fails for good: a non-retryable 400 on the VM write.
    await p.control('POST', '/_sim/faults', {
      service: 'arm',
      operation: 'Microsoft.Compute/virtualMachines/write',
      method: 'PATCH',
      status: 400,
      code: 'InvalidParameter',
      failNext: 1,
    });
    expect((await post('/api/vms/encrypt', { vmId })).status).toBe(202);
    const failed = await p.waitForInstance(orchestrationInstanceId(vmId), 120_000);
    expect(failed.output).toMatchObject({ outcome: 'failed' });
    const before = await model(vmId);
    expect(before.storageProfile?.osDisk?.encryptionSettings).toBeUndefined();
    const extension = (before.instanceView?.extensions ?? []).find(
      (e) => e.type === 'Microsoft.Azure.Security.AzureDiskEncryptionForLinux',
    );
    const secretUrl = extension?.statuses?.[0]?.message;
    expect(secretUrl).toMatch(/^https:\/\/.+\/secrets\/.+\/[0-9a-f]{32}$/);

    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const healed = await p.waitForInstance(remediationInstanceId(vmId), 60_000);
    expect(healed.output).toMatchObject({ action: 'apply-model-settings', result: 'succeeded' });
    const after = await model(vmId);
    expect(after.storageProfile?.osDisk?.encryptionSettings).toMatchObject({ enabled: true, diskEncryptionKey: { secretUrl } });

    // Healthy now: a second look finds nothing to do.
    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const again = await nextRun(remediationInstanceId(vmId), healed.createdTime);
    expect(again.output).toMatchObject({ action: 'nothing' });
  }, 240_000);
});
