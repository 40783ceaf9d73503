/**
 * End to end on the local Functions host running the built app against the Azure simulator (the
 * pipeline harness): drift signals in, remediations out, Azure's state checked afterwards.
 */
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_ROUTES } from '../../core/events';
import { orchestrationInstanceId, remediationInstanceId, SWEEP_INSTANCE_ID, vaultRemediationInstanceId } from '../../core/names';
import { issuedSecrets, observableText, secretHits } from '../pipeline/checks';
import { eventually, EVENTS_RG, HUB_KEYS, startPipeline, VAULT_RG, type InstanceStatus, type Pipeline } from '../pipeline/harness';
import { monitorAlert, policyStateChanged } from '../fixtures/signals';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: true,
    armEvents: false, // no vmWritten: VMs stay unencrypted until a remediation encrypts them
    settings: {
      ADE_SECRET_EVENT_TIMEOUT_MINUTES: '5',
      ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60',
      ADE_EXCLUDE_RESOURCE_GROUPS: 'rg-sweep-excluded',
      ADE_SWEEP_CONCURRENCY: '20',
      ADE_SWEEP_READS_PER_SECOND: '25',
      ADE_HEAL_ACTION: 'restart',
    },
  });
  // The simulator deletes extensions in 30 s by default; the drift test needs no realism there.
  await p.control('PATCH', '/_sim/arm/config', { durations: { extensionDelete: 300 } });
  // Resource Manager drift events → armDrift, filtered like infra does (EVENT_ROUTES.armDrift).
  await p.eventGrid.systemTopics.beginCreateOrUpdateAndWait(EVENTS_RG, 'subscription-events', {
    location: 'global',
    source: `/subscriptions/${p.subscriptionId}`,
    topicType: 'Microsoft.Resources.Subscriptions',
  });
  await p.eventGrid.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(EVENTS_RG, 'subscription-events', 'arm-drift', {
    destination: {
      endpointType: 'WebHook',
      endpointUrl: `${p.host.baseUrl}/runtime/webhooks/eventgrid?functionName=armDrift&code=${HUB_KEYS.eventGrid}`,
      maxEventsPerBatch: 1,
    } as never,
    filter: {
      includedEventTypes: [...EVENT_ROUTES.armDrift.eventTypes],
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.operationName', values: [...EVENT_ROUTES.armDrift.operationNames] } as never,
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

const post = (path: string, body: unknown) =>
  p.host.fetch(`${path}${path.includes('?') ? '&' : '?'}code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Waits for a run of `instanceId` that finished after `since` and whose output satisfies `accept`. */
async function runAfter(
  instanceId: string,
  since: string,
  accept: (s: InstanceStatus) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<InstanceStatus> {
  return eventually(
    `a finished run of ${instanceId}`,
    async () => {
      const s = await p.getInstance(instanceId);
      if (!s || !['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus) || s.createdTime < since) return undefined;
      return accept(s) ? s : undefined;
    },
    timeoutMs,
  );
}

function policyEvent(vmId: string, timestamp: string) {
  return policyStateChanged(p.subscriptionId, vmId, timestamp, `policy-${timestamp}`);
}

function alertFor(vmId: string) {
  return monitorAlert(p.subscriptionId, [vmId.toLowerCase()]);
}

const vmParts = (vmId: string) => ({ rg: vmId.split('/')[4], name: vmId.split('/')[8] });
let encryptedVmId = '';
let vaultName = '';

describe('drift remediation on the simulator', () => {
  it('policy NonCompliant for an unencrypted VM → encrypted; the event three times plus an alert → one remediation', async () => {
    const since = new Date().toISOString();
    const vmId = await p.createVm('pol-win', { os: 'Windows' });
    const event = policyEvent(vmId, new Date().toISOString());
    for (let i = 0; i < 3; i++) {
      const res = await p.host.postEventGrid('policyStates', [event]);
      expect(res.status, await res.text()).toBeLessThan(300);
    }
    const alert = await post('/api/alerts', alertFor(vmId));
    expect(alert.status).toBe(202);
    const answer = (await alert.json()) as { remediations: Array<{ started: boolean; instanceId: string }> };
    expect(answer.remediations).toEqual([expect.objectContaining({ instanceId: remediationInstanceId(vmId), started: false })]);

    const run = await runAfter(remediationInstanceId(vmId), since);
    expect(run.output).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    const all = await p.listInstances();
    expect(all.filter((i) => i.name === 'remediateVm' && String(i.input?.target?.vmId).toLowerCase() === vmId.toLowerCase())).toHaveLength(
      1,
    );
    expect(all.filter((i) => i.name === 'encryptVm' && String(i.input?.vmId).toLowerCase() === vmId.toLowerCase())).toHaveLength(1);
    const { rg, name } = vmParts(vmId);
    const vm = await p.compute.virtualMachines.get(rg, name);
    const ext = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security');
    expect(ext?.provisioningState).toBe('Succeeded');
    encryptedVmId = vmId;
    vaultName = String((ext?.settings as Record<string, string>).KeyVaultResourceId)
      .split('/')
      .at(-1)!;
  }, 150_000);

  it('ADE extension removed from an encrypted VM → redeployed (armDrift)', async () => {
    const since = new Date().toISOString();
    const { rg, name } = vmParts(encryptedVmId);
    const before = await p.compute.virtualMachines.get(rg, name);
    const ext = (before.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')!;
    await p.compute.virtualMachineExtensions.beginDeleteAndWait(rg, name, ext.name!, { updateIntervalInMs: 50 });
    const run = await runAfter(remediationInstanceId(encryptedVmId), since);
    expect(run.output).toMatchObject({ action: 'redeploy-extension', result: 'succeeded' });
    const after = await p.compute.virtualMachines.get(rg, name);
    const again = (after.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security');
    expect(again?.typePropertiesType).toBe('AzureDiskEncryption');
    expect((again?.settings as Record<string, string>).SequenceVersion).not.toBe((ext.settings as Record<string, string>).SequenceVersion);
  }, 120_000);

  it('a data disk attached after encryption → the extension runs again (new SequenceVersion) and encrypts it', async () => {
    const since = new Date().toISOString();
    const { rg, name } = vmParts(encryptedVmId);
    const before = await p.compute.virtualMachines.get(rg, name);
    const ext = (before.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')!;
    const dataDisks = (before.storageProfile?.dataDisks ?? []).map((d) => ({
      lun: d.lun,
      createOption: 'Attach',
      managedDisk: { id: d.managedDisk!.id! },
    }));
    await p.compute.virtualMachines.beginUpdateAndWait(
      rg,
      name,
      { storageProfile: { dataDisks: [...dataDisks, { lun: 9, createOption: 'Empty', diskSizeGB: 32 }] } },
      { updateIntervalInMs: 50 },
    );
    expect((await post('/api/vms/heal', { vmId: encryptedVmId })).status).toBe(202);
    const run = await runAfter(remediationInstanceId(encryptedVmId), since, undefined, 150_000);
    expect(run.output, JSON.stringify(run.output)).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    expect(run.output.reason).toMatch(/attached after encryption/);
    const after = await p.compute.virtualMachines.get(rg, name, { expand: 'instanceView' });
    const added = after.storageProfile!.dataDisks!.find((d) => d.lun === 9)!;
    const view = after.instanceView!.disks!.find((d) => d.name === added.name);
    expect(view?.encryptionSettings?.some((e) => e.enabled)).toBe(true);
    const again = (after.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')!;
    expect(again.name).toBe(ext.name);
    expect((again.settings as Record<string, string>).SequenceVersion).not.toBe((ext.settings as Record<string, string>).SequenceVersion);
  }, 200_000);

  it('vault disk-encryption flag turned off → repaired from the vault write event', async () => {
    const since = new Date().toISOString();
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: false } });
    const vaultId = `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${vaultName}`;
    const run = await runAfter(vaultRemediationInstanceId(vaultId), since, (s) => s.output?.action === 'repair-vault');
    expect(run.output).toMatchObject({ action: 'repair-vault', result: 'succeeded' });
    expect((await kv.vaults.get(VAULT_RG, vaultName)).properties.enabledForDiskEncryption).toBe(true);
  }, 120_000);

  it('a secrets/get grant on a managed vault (anyone, here the user) → removed from the access-policy write event, reported', async () => {
    const since = new Date().toISOString();
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    await kv.vaults.updateAccessPolicy(VAULT_RG, vaultName, 'add', {
      properties: {
        accessPolicies: [
          { tenantId: p.user.tenantId, objectId: p.user.objectId, permissions: { secrets: ['get', 'list', 'set'], keys: ['get'] } },
        ],
      },
    });
    const vaultId = `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${vaultName}`;
    const run = await runAfter(vaultRemediationInstanceId(vaultId), since, (s) => String(s.output?.reason).includes('secrets/get'));
    expect(run.output).toMatchObject({ action: 'repair-vault', result: 'succeeded' });
    expect(run.output.reason).toContain(`principal ${p.user.objectId} has secrets/get, secrets/list`);
    const policies = (await kv.vaults.get(VAULT_RG, vaultName)).properties.accessPolicies ?? [];
    const users = policies.find((e) => e.objectId === p.user.objectId);
    expect(users?.permissions.secrets?.map((x) => x.toLowerCase())).toEqual(['set']);
    expect(users?.permissions.keys).toEqual(['get']);
    // Nobody is left able to read a secret; the app keeps its own entry (list of properties, recover).
    expect(policies.filter((e) => (e.permissions.secrets ?? []).some((x) => /^(get|all)$/i.test(x)))).toEqual([]);
    const app = policies.find((e) => e.objectId === p.appObjectId);
    expect(app?.permissions.secrets?.map((x) => x.toLowerCase()).sort()).toEqual(['list', 'recover']);
    await eventually('the DriftRemediated outcome', async () =>
      p.host.logs.some((l) => String(l.message).includes('outcome AdeAutopilot.DriftRemediated')) ? true : undefined,
    );
  }, 120_000);

  it('BEK secret soft-deleted → recovered on heal; purged → unrecoverable, VM untouched', async () => {
    // A Linux VM encrypted through POST /api/vms/heal.
    let since = new Date().toISOString();
    const vmId = await p.createVm('heal-lnx', { os: 'Linux', dataDisks: 0 });
    const healed = await post('/api/vms/heal', { vmId });
    expect(healed.status, await healed.text()).toBe(202);
    expect((await runAfter(remediationInstanceId(vmId), since)).output).toMatchObject({ action: 'encrypt', result: 'succeeded' });

    const { rg, name } = vmParts(vmId);
    const view = await p.compute.virtualMachines.get(rg, name, { expand: 'instanceView' });
    const secretUrl = view.instanceView!.disks!.flatMap((d) => d.encryptionSettings ?? [])[0].diskEncryptionKey!.secretUrl;
    const secretName = secretUrl.split('/')[4];
    const vault = secretUrl.split('/')[2].split('.')[0];
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    await kv.vaults.updateAccessPolicy(VAULT_RG, vault, 'add', {
      properties: {
        // `delete` only: a secrets/list grant on a managed vault is drift the app removes (the check reads the simulator instead).
        accessPolicies: [{ tenantId: p.user.tenantId, objectId: p.user.objectId, permissions: { secrets: ['delete'] } }],
      },
    });
    const secrets = new SecretClient(
      `https://${vault}.vault.azure.net`,
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
    );
    await (await secrets.beginDeleteSecret(secretName, { intervalInMs: 50 })).pollUntilDone();

    since = new Date().toISOString();
    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const recovered = await runAfter(remediationInstanceId(vmId), since);
    expect(recovered.output).toMatchObject({ action: 'restore', result: 'succeeded' });
    const stored = await p.control<{ secrets: Array<{ name: string; deleted: boolean }> }>('GET', `/_sim/keyvault/vaults/${vault}`);
    expect(stored.secrets.find((x) => x.name === secretName)).toMatchObject({ deleted: false });

    // Purged for good (removed out of band): unrecoverable, and nothing touches the VM.
    await p.control('DELETE', `/_sim/keyvault/vaults/${vault}/secrets/${secretName}`);
    since = new Date().toISOString();
    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const lost = await runAfter(remediationInstanceId(vmId), since);
    expect(lost.output).toMatchObject({ action: 'restore', result: 'failed' });
    const restore = (await p.listInstances()).filter(
      (i) => i.name === 'restoreBek' && String(i.input?.vmId).toLowerCase() === vmId.toLowerCase() && i.createdTime >= since,
    );
    expect(restore).toHaveLength(1);
    expect(restore[0].output.outcome).toBe('unrecoverable');
    expect(restore[0].output.reason).toContain(secretName);
    expect(restore[0].output.reason).toContain(vault);
    expect(restore[0].output.problems[0].operatorAction).toMatch(/Azure Backup/);
    const guest = await p.control<{ powerState: string }>('GET', `/_sim/arm/vms/guest?id=${encodeURIComponent(vmId)}`);
    expect(guest.powerState).toBe('running');
    expect(p.host.logs.some((l) => String(l.message).includes('outcome AdeAutopilot.Unrecoverable'))).toBe(true);
  }, 180_000);

  it('malformed alert payloads → 400 naming the problem; malformed policy events start nothing', async () => {
    const before = (await p.listInstances()).length;
    const bad = await post('/api/alerts', { schemaId: 'azureMonitorCommonAlertSchema', data: { essentials: { alertRule: 'x' } } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('alert.data.essentials.alertTargetIDs');
    expect((await post('/api/alerts', 'not json')).status).toBe(400);
    const event = policyEvent(encryptedVmId, 'not-a-time');
    expect((await p.host.postEventGrid('policyStates', [event])).status).toBeLessThan(300);
    expect(
      p.host.logs.some((l) => String(l.message).includes('dropped a malformed policy event') && String(l.message).includes('timestamp')),
    ).toBe(true);
    expect((await p.listInstances()).length).toBe(before);
  }, 60_000);
});

describe('no secret leaks', () => {
  it('no BEK or credential value the simulator issued appears in history, status or logs after the remediations', async () => {
    const secrets = await issuedSecrets(p, []);
    expect(secrets.length).toBeGreaterThan(2);
    expect(secretHits(secrets, await observableText(p))).toEqual([]);
  }, 60_000);
});

describe('existing-fleet sweep on the simulator', () => {
  const ELIGIBLE = 60;
  it('500 VMs: dry run report, then for real with a cap of 20', async () => {
    for (const rg of ['rg-sweep', 'rg-sweep-excluded'])
      await p.control('PUT', `/_sim/arm/subscriptions/${p.subscriptionId}/resourceGroups/${rg}`, { location: 'westeurope' });
    await p.control('POST', '/_sim/arm/vms', {
      subscriptionId: p.subscriptionId,
      resourceGroup: 'rg-sweep',
      count: ELIGIBLE,
      namePrefix: 'sw-ok-',
      osType: 'Windows',
      startIndex: 0,
    });
    await p.control('POST', '/_sim/arm/vms', {
      subscriptionId: p.subscriptionId,
      resourceGroup: 'rg-sweep',
      count: 200,
      namePrefix: 'sw-tag-',
      osType: 'Windows',
      startIndex: 0,
      tags: { 'ade-autopilot': 'skip' },
    });
    await p.control('POST', '/_sim/arm/vms', {
      subscriptionId: p.subscriptionId,
      resourceGroup: 'rg-sweep-excluded',
      count: 240,
      namePrefix: 'sw-rg-',
      osType: 'Windows',
      startIndex: 0,
    });

    let since = new Date().toISOString();
    expect((await post('/api/sweep?dryRun=true', '')).status).toBe(202);
    const dry = await runAfter(SWEEP_INSTANCE_ID.backfill, since);
    const report = dry.output.report;
    expect(report.byReason['skip/exclusion-tag']).toBe(200);
    expect(report.byReason['skip/resource-group-excluded']).toBe(240);
    expect(report.byDecision.encrypt).toBe(ELIGIBLE);
    expect(report.total).toBeGreaterThanOrEqual(500);
    expect(report.wouldChange.filter((v: { name: string }) => v.name.startsWith('sw-ok-'))).toHaveLength(ELIGIBLE);
    expect(dry.output.started).toBe(0);

    since = new Date().toISOString();
    expect((await post('/api/sweep', { dryRun: false })).status).toBe(202);
    let maxInFlight = 0;
    const real = await eventually(
      'the real sweep',
      async () => {
        const s = await p.getInstance(SWEEP_INSTANCE_ID.backfill);
        if (s?.customStatus && typeof s.customStatus.inFlight === 'number') maxInFlight = Math.max(maxInFlight, s.customStatus.inFlight);
        return s && s.createdTime >= since && s.runtimeStatus === 'Completed' ? s : undefined;
      },
      170_000,
    );
    expect(real.output.started).toBe(ELIGIBLE);
    expect(real.output.peakInFlight).toBeLessThanOrEqual(20);
    expect(maxInFlight).toBeLessThanOrEqual(20);
    expect(real.output.outcomes.encrypted).toBe(ELIGIBLE);
    const encryptRuns = (await p.listInstances()).filter((i) => i.name === 'encryptVm' && String(i.input?.vmId).includes('/sw-ok-'));
    expect(encryptRuns).toHaveLength(ELIGIBLE);
    expect(encryptRuns.every((i) => i.instanceId === orchestrationInstanceId(i.input.vmId) && i.output?.outcome === 'encrypted')).toBe(
      true,
    );
  }, 240_000);
});

describe('BEK health sweep on the simulator', () => {
  it('the timer pages through the fleet within the read budget and reads instance views only of VMs with ADE', async () => {
    const since = new Date().toISOString();
    await p.host.fireTimer('bekHealthSweep');
    const run = await runAfter(SWEEP_INSTANCE_ID['bek-health'], since, () => true, 120_000);
    expect(run.runtimeStatus).toBe('Completed');
    const { report, reads, pages } = run.output;
    // The encrypted VMs of the tests above (the purged-secret one included) are the only candidates.
    expect(report.byDecision['bek-healthy'] + (report.byDecision['bek-missing'] ?? 0)).toBeGreaterThanOrEqual(60);
    expect(report.total).toBeLessThan(100);
    expect(reads).toBe(pages + report.total);
    // Paced: never faster than ADE_SWEEP_READS_PER_SECOND (25/s) on the host's clock.
    const seconds = (Date.parse(run.output.finishedAt) - Date.parse(run.output.startedAt)) / 1000;
    expect(reads / Math.max(seconds, 1e-3)).toBeLessThanOrEqual(25 * 1.05);
  }, 150_000);
});
