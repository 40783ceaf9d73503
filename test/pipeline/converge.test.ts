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

describe('credentials: a failed clean-up is a warning, and the janitor removes what no live run holds', () => {
  type SimApp = { displayName: string; passwordCredentials: Array<{ keyId: string; displayName: string | null; endDateTime: string }> };
  const directory = () =>
    p.sim.ctx.directory as unknown as {
      applications: Map<string, SimApp>;
      addPassword(owner: SimApp, options: { displayName?: string; startDateTime?: string; endDateTime?: string }): unknown;
    };
  const regionApp = () => [...directory().applications.values()].find((a) => a.displayName.startsWith('ade-autopilot-adeap-'))!;
  const live = () => regionApp().passwordCredentials.filter((c) => Date.parse(c.endDateTime) > Date.now());

  it('removePassword refused: the VM is encrypted with a warning; the janitor then removes the password', async () => {
    const vmId = await p.createVm('cred-left', { os: 'Windows' });
    await p.control('POST', '/_sim/faults', {
      service: 'graph',
      operation: 'POST applications/{id}/removePassword',
      status: 403,
      failNext: 1,
    });
    expect((await post('/api/vms/encrypt', { vmId })).status).toBe(202);
    const run = await p.waitForInstance(orchestrationInstanceId(vmId), 120_000);
    expect(run.output).toMatchObject({ outcome: 'encrypted' });
    expect(run.output.warnings).toEqual([expect.stringMatching(/could not remove the short-lived credential/)]);
    expect(live().map((c) => c.displayName)).toEqual([`ade-autopilot run ${orchestrationInstanceId(vmId)}`]);

    // A crash's leftovers: one naming a run that does not exist, one without a holder past its hold time; and a
    // password that is not ours, which the janitor never touches.
    const app = regionApp();
    const hourAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
    directory().addPassword(app, { displayName: 'ade-autopilot run encrypt-00000000-rg-gone-vm-0123456789ab' });
    directory().addPassword(app, { displayName: 'ade-autopilot extension run', startDateTime: hourAgo });
    directory().addPassword(app, { displayName: 'operator break-glass' });
    expect(live()).toHaveLength(4);

    await p.host.fireTimer('credentialJanitor');
    expect(live().map((c) => c.displayName)).toEqual(['operator break-glass']);
  }, 240_000);
});

describe('vault readiness cached in the vault entity', () => {
  it('the per-region Entra application deleted: the next run invalidates the cached state, rebuilds it and encrypts', async () => {
    const dir = p.sim.ctx.directory as unknown as {
      applications: Map<string, { id: string; appId: string; displayName: string }>;
      servicePrincipals: Map<string, { appId: string }>;
    };
    const app = [...dir.applications.values()].find((a) => a.displayName.startsWith('ade-autopilot-adeap-'))!;
    expect(app).toBeDefined();
    // Deleted out of band (the service principal goes with its application).
    dir.applications.delete(app.id);
    for (const [id, sp] of dir.servicePrincipals) if (sp.appId === app.appId) dir.servicePrincipals.delete(id);

    const vmId = await p.createVm('after-app-deleted', { os: 'Linux' });
    expect((await post('/api/vms/encrypt', { vmId })).status).toBe(202);
    const run = await p.waitForInstance(orchestrationInstanceId(vmId), 120_000);
    expect(run.output, JSON.stringify(run.output)).toMatchObject({ outcome: 'encrypted' });
    const rebuilt = [...dir.applications.values()].filter((a) => a.displayName === app.displayName);
    expect(rebuilt).toHaveLength(1);
    expect(rebuilt[0]!.id).not.toBe(app.id);
    const { resourceGroup, name } = vmParts(vmId);
    const vm = await p.compute.virtualMachines.get(resourceGroup, name);
    const ade = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security');
    expect((ade?.settings as Record<string, string>).AADClientID).toBe(rebuilt[0]!.appId);
  }, 240_000);
});
