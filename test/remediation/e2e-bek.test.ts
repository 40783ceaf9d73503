/**
 * The BEK self-healing proof, end to end on the local Functions host against the Azure simulator:
 * the guest loses its BEK files → the ADE extension reports it (simulator;
 * https://learn.microsoft.com/azure/virtual-machines/linux/disk-encryption-troubleshooting) → the BEK health
 * sweep (fired through the host's admin API, as a timer would) finds it → restoreBek recovers what the
 * vault lost and deallocates + starts the VM so the platform re-attaches the BEK volume → verified.
 * Drift in: a policy NonCompliant state raised by the simulator's Policy Insights source.
 */
import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_ROUTES } from '../../core/events';
import { remediationInstanceId, restoreInstanceId, SWEEP_INSTANCE_ID } from '../../core/names';
import { DEFAULT_POLICY_DEFINITION_IDS } from '../../core/remediation/settings';
import { appRequests, issuedSecrets, observableText, secretHits } from '../pipeline/checks';
import { eventually, EVENTS_RG, HUB_KEYS, startPipeline, VAULT_RG, type InstanceStatus, type Pipeline } from '../pipeline/harness';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: true,
    armEvents: false, // VMs stay unencrypted until a remediation encrypts them
    settings: {
      ADE_SECRET_EVENT_TIMEOUT_MINUTES: '5',
      ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60',
      ADE_HEAL_ACTION: 'restart',
      ADE_SWEEP_READS_PER_SECOND: '25',
    },
    // Deallocate / start take 60 s / 30 s in the simulator by default; the proof needs no realism there.
    durations: { vmDeallocate: 300, vmStart: 300 },
  });
  // Azure Policy state events for the subscription → policyStates, filtered like infra does.
  await p.eventGrid.systemTopics.beginCreateOrUpdateAndWait(EVENTS_RG, 'policy-states', {
    location: 'global',
    source: `/subscriptions/${p.subscriptionId}`,
    topicType: 'Microsoft.PolicyInsights.PolicyStates',
  });
  await p.eventGrid.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(EVENTS_RG, 'policy-states', 'policy-drift', {
    destination: {
      endpointType: 'WebHook',
      endpointUrl: `${p.host.baseUrl}/runtime/webhooks/eventgrid?functionName=policyStates&code=${HUB_KEYS.eventGrid}`,
      maxEventsPerBatch: 1,
    } as never,
    filter: { includedEventTypes: [...EVENT_ROUTES.policyStates.eventTypes] },
  });
}, 120_000);

afterAll(async () => {
  await p?.stop();
});

const post = (path: string, body: unknown, key = HUB_KEYS.function) =>
  p.host.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-functions-key': key },
    body: JSON.stringify(body),
  });

/**
 * Waits for a finished run of `instanceId` other than `previous` (read before triggering), told apart by its
 * creation time.
 */
async function nextRun(instanceId: string, previous: InstanceStatus | undefined, timeoutMs = 60_000): Promise<InstanceStatus> {
  return eventually(
    `a new finished run of ${instanceId}`,
    async () => {
      const s = await p.getInstance(instanceId);
      if (!s || !['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus)) return undefined;
      return previous && s.createdTime === previous.createdTime ? undefined : s;
    },
    timeoutMs,
  );
}

interface GuestView {
  powerState: string;
  guest: { boot: string; bekFiles: Array<{ name: string; secretUrl: string }> };
}
const guestOf = (vmId: string) => p.control<GuestView>('GET', `/_sim/arm/vms/guest?id=${encodeURIComponent(vmId)}`);
const vmParts = (vmId: string) => ({ rg: vmId.split('/')[4]!, name: vmId.split('/')[8]! });

/** The ADE extension's instance-view messages, as ARM returns them. */
async function adeMessages(vmId: string): Promise<string[]> {
  const { rg, name } = vmParts(vmId);
  const vm = await p.compute.virtualMachines.get(rg, name, { expand: 'instanceView' });
  const view = (vm.instanceView?.extensions ?? []).find((e) => /AzureDiskEncryption/i.test(e.type ?? ''));
  return [...(view?.statuses ?? []), ...(view?.substatuses ?? [])].map((s) => s.message ?? '');
}
const BEK_MISSING = /BEK file not found|BEK disk is missing|Cannot find current passphrase file/;

/** Fires the BEK health timer through the admin API and waits for that sweep to finish. */
async function sweep(): Promise<InstanceStatus> {
  const previous = await p.getInstance(SWEEP_INSTANCE_ID['bek-health']);
  const fired = await post('/admin/functions/bekHealthSweep', { input: '' }, HUB_KEYS.master);
  expect(fired.status, await fired.text()).toBe(202);
  return nextRun(SWEEP_INSTANCE_ID['bek-health'], previous, 90_000);
}

let windowsVm = '';
let linuxVm = '';

describe('BEK self-healing on the simulator', () => {
  it('policy NonCompliant from the Policy Insights source → the Windows VM is encrypted', async () => {
    windowsVm = await p.createVm('bek-win', { os: 'Windows' });
    const recorded = await p.control<{ published: string | null }>('POST', '/_sim/arm/policy/states', {
      resourceId: windowsVm,
      policyAssignmentId: `/subscriptions/${p.subscriptionId}/providers/microsoft.authorization/policyassignments/ade-audit`,
      policyDefinitionId: DEFAULT_POLICY_DEFINITION_IDS[0]!.toLowerCase(),
      complianceState: 'NonCompliant',
    });
    expect(recorded.published).toBe('Microsoft.PolicyInsights.PolicyStateCreated');
    const run = await nextRun(remediationInstanceId(windowsVm), undefined);
    expect(run.output).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    expect((await guestOf(windowsVm)).guest.bekFiles.length).toBeGreaterThan(0);
  }, 60_000);

  it('BEK files deleted on a Windows and a Linux VM → the sweep detects both → deallocate + start restores them → verified', async () => {
    linuxVm = await p.createVm('bek-lnx', { os: 'Linux', dataDisks: 0 });
    expect((await post('/api/vms/heal', { vmId: linuxVm })).status).toBe(202);
    expect((await nextRun(remediationInstanceId(linuxVm), undefined)).output).toMatchObject({ action: 'encrypt', result: 'succeeded' });

    const before = new Map<string, string[]>();
    for (const vmId of [windowsVm, linuxVm]) {
      before.set(vmId, (await guestOf(vmId)).guest.bekFiles.map((f) => f.secretUrl).sort());
      await p.control('POST', '/_sim/arm/vms/deleteBek', { id: vmId });
      expect((await adeMessages(vmId)).some((m) => BEK_MISSING.test(m))).toBe(true);
    }

    const run = await sweep();
    expect(run.output.report.byDecision['bek-missing']).toBe(2);
    expect(run.output.started).toBe(2);
    expect(run.output.outcomes).toEqual({ restored: 2 });
    for (const vmId of [windowsVm, linuxVm]) {
      const restore = await nextRun(restoreInstanceId(vmId), undefined);
      expect(restore.output.outcome).toBe('restored');
      expect(restore.output.steps).toEqual([expect.stringMatching(/deallocate/i)]);
      // Verified independently: the guest has its key material back and the extension no longer complains.
      const guest = await guestOf(vmId);
      expect(guest).toMatchObject({ powerState: 'running', guest: { boot: 'ok' } });
      expect(guest.guest.bekFiles.map((f) => f.secretUrl).sort()).toEqual(before.get(vmId));
      expect((await adeMessages(vmId)).some((m) => BEK_MISSING.test(m))).toBe(false);
    }
  }, 90_000);

  it('BEK files and the secret (soft-deleted) gone on the Linux VM → recovered from soft delete, then restored', async () => {
    const {
      guest: { bekFiles },
    } = await guestOf(linuxVm);
    const secretUrl = bekFiles[0]!.secretUrl;
    const [, , host, , secretName] = secretUrl.split('/');
    const vault = host!.split('.')[0]!;
    const credential = new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret);
    const kv = new KeyVaultManagementClient(credential, p.subscriptionId);
    await kv.vaults.updateAccessPolicy(VAULT_RG, vault, 'add', {
      properties: {
        accessPolicies: [{ tenantId: p.user.tenantId, objectId: p.user.objectId, permissions: { secrets: ['delete', 'list'] } }],
      },
    });
    const secrets = new SecretClient(`https://${vault}.vault.azure.net`, credential);
    await (await secrets.beginDeleteSecret(secretName!, { intervalInMs: 50 })).pollUntilDone();
    await p.control('POST', '/_sim/arm/vms/deleteBek', { id: linuxVm });

    const previousRestore = await p.getInstance(restoreInstanceId(linuxVm));
    const run = await sweep();
    expect(run.output.report.byDecision['bek-missing']).toBe(1);
    expect(run.output.outcomes).toEqual({ restored: 1 });
    const restore = await nextRun(restoreInstanceId(linuxVm), previousRestore);
    expect(restore.output.outcome).toBe('restored');
    expect(restore.output.steps).toHaveLength(2);
    expect(restore.output.steps[0]).toMatch(new RegExp(`recover.*${secretName}`, 'i'));
    expect(restore.output.steps[1]).toMatch(/deallocate/i);
    const names: string[] = [];
    for await (const s of secrets.listPropertiesOfSecrets()) names.push(s.name);
    expect(names).toContain(secretName);
    const guest = await guestOf(linuxVm);
    expect(guest.guest).toMatchObject({ boot: 'ok', bekFiles: [{ secretUrl }] });
    expect((await adeMessages(linuxVm)).some((m) => BEK_MISSING.test(m))).toBe(false);
  }, 90_000);

  it('keys in a vault the app does not manage (encrypted before it existed) → reported with the next step, no 403', async () => {
    // The user's own vault outside the vault group: the template grants the app nothing there (authorization enforced).
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    const legacy = await kv.vaults.beginCreateOrUpdateAndWait('rg-app', 'legacy-kv-0001', {
      location: 'westeurope',
      properties: { tenantId: p.user.tenantId, sku: { family: 'A', name: 'standard' }, accessPolicies: [], enabledForDiskEncryption: true },
    });
    const vmId = await p.createVm('bek-legacy', { os: 'Windows' });
    const { rg, name } = vmParts(vmId);
    await p.compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      rg,
      name,
      'AzureDiskEncryption',
      {
        location: 'westeurope',
        publisher: 'Microsoft.Azure.Security',
        typePropertiesType: 'AzureDiskEncryption',
        typeHandlerVersion: '2.2',
        autoUpgradeMinorVersion: true,
        settings: {
          EncryptionOperation: 'EnableEncryption',
          KeyVaultURL: legacy.properties.vaultUri,
          KeyVaultResourceId: legacy.id,
          VolumeType: 'All',
          SequenceVersion: '11111111-2222-3333-4444-555555555555',
        },
      },
      { updateIntervalInMs: 50 },
    );
    await p.control('POST', '/_sim/arm/vms/deleteBek', { id: vmId });
    expect((await adeMessages(vmId)).some((m) => BEK_MISSING.test(m))).toBe(true);
    const since = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;

    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const run = await nextRun(remediationInstanceId(vmId), undefined);
    expect(run.output.action).toBe('restore');
    expect(run.output.detail).toMatch(
      /^restoreBek: action-required \(The ADE extension reports the BEK missing and the VM's keys are in a vault/,
    );
    expect(run.output.detail).toContain('legacy-kv-0001');
    const reported = p.host.logs.find(
      (l) => String(l.message).includes('outcome AdeAutopilot.ActionRequired') && JSON.stringify(l).includes(vmId),
    );
    expect(JSON.stringify(reported ?? p.host.logs.slice(-20))).toMatch(/check or recover the secret there yourself/);
    // Nothing was tried against the vault it has no access to: no 403, no request to it at all, the VM untouched.
    const requests = await appRequests(p, since);
    expect(requests.filter((e) => e.status === 403)).toEqual([]);
    expect(requests.filter((e) => /legacy-kv-0001/i.test(`${e.host ?? ''} ${e.path}`) && e.method !== 'GET')).toEqual([]);
    expect(requests.filter((e) => /legacy-kv-0001/i.test(e.host ?? ''))).toEqual([]);
    expect((await guestOf(vmId)).powerState).toBe('running');
  }, 90_000);

  it('no BEK or credential value the simulator issued appears in history, status or logs', async () => {
    const issued = await issuedSecrets(p, []);
    expect(issued.length).toBeGreaterThan(2);
    expect(secretHits(issued, await observableText(p))).toEqual([]);
  }, 60_000);
});
