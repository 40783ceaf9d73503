/**
 * ADE_ENCRYPTION_MODE=encryption-at-host for new VMs, end to end over the simulator: the encryptAtHost orchestrator
 * (run by the test driver) with its real activities over the real ComputeAdapter, signed in as a principal holding
 * exactly the template's grants (infra/main.json, with enableSelfHealingRestart). Each heal action, the refusals
 * (feature, size, ADE), a failure after the deallocation, and that the starters pick this orchestration.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { ClientSecretCredential, EnvironmentCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeAdapter } from '../../azure/compute';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import type { EncryptionPolicy } from '../../core/policy';
import { parseMaintenanceWindow } from '../../core/remediation/maintenance-window';
import type { OutcomeEvent } from '../../core/remediation/outcomes';
import { startEncryptVm } from '../../functions/lib/start';
import { handleVmWritten } from '../../functions/lib/vm-written';
import type { EncryptAtHostInput, EncryptAtHostOutput } from '../../orchestrations/contracts';
import { encryptAtHostOrchestrator } from '../../orchestrations/encrypt-at-host';
import { createEncryptAtHostActivities } from '../../orchestrations/encrypt-at-host-activities';
import { createRemediationActivities } from '../../orchestrations/remediation-activities';
import { applyTemplateGrants } from '../../local/start/grants';
import { startSimHarness, type SimHarness } from '../azure/sim-harness';
import { Driver } from '../remediation/driver';

let h: SimHarness;
let sub: string;
let admin: ComputeManagementClient;
let appCompute: ComputeAdapter;
const RG = 'rg-eah-new';

function policyOf(env: Record<string, string> = {}): EncryptionPolicy {
  return toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sub, ADE_ENCRYPTION_MODE: 'encryption-at-host', ...env }));
}

async function seedVm(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { ids } = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId: sub,
    resourceGroup: RG,
    location: 'westeurope',
    osType: 'Windows',
    name,
    count: 1,
    ...extra,
  });
  return ids[0]!;
}

async function setFeature(state: string): Promise<void> {
  await h.control('PUT', '/_sim/arm/features', { subscriptionId: sub, feature: 'Microsoft.Compute/EncryptionAtHost', state });
}

/** Runs encryptAtHost once through the driver; returns its output, the outcome events and the activity calls. */
async function run(vmId: string, input: Partial<EncryptAtHostInput> = {}, start?: Date) {
  const events: OutcomeEvent[] = [];
  const log = () => undefined;
  const activities = {
    ...createEncryptAtHostActivities({ compute: appCompute, log }),
    ...createRemediationActivities({
      compute: appCompute,
      vaults: {} as never,
      keyVault: {} as never,
      identity: async () => ({ tenantId: '', objectId: '' }),
      publisher: { publish: async (e) => void events.push(...e) },
      log,
    }),
  };
  const driver = new Driver({
    orchestrators: { encryptAtHost: encryptAtHostOrchestrator as never },
    activities: activities as unknown as Record<string, (input: unknown) => Promise<unknown>>,
    ...(start ? { start } : {}),
  });
  const output = (await driver.run(
    'encryptAtHost',
    { vmId, policy: policyOf(), publishOutcome: true, ...input },
    `eah-${vmId.split('/').pop()}`,
  )) as EncryptAtHostOutput;
  return { output, events, driver };
}

async function model(name: string) {
  const vm = await admin.virtualMachines.get(RG, name, { expand: 'instanceView' });
  const power = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code?.split('/')[1];
  return { encryptionAtHost: vm.securityProfile?.encryptionAtHost === true, power };
}

beforeAll(async () => {
  h = await startSimHarness({ speed: 50 });
  await h.fastDurations(200);
  sub = h.sim.seed.subscriptionId;
  await setFeature('Registered');
  const adminCredential = new EnvironmentCredential();
  admin = new ComputeManagementClient(adminCredential, sub);
  // The app: a principal with exactly what infra/main.json grants (restart role on).
  const app = await h.control<{ objectId: string; appId: string; clientSecret: string }>('POST', '/_sim/principals', {
    displayName: 'eah-app',
    roles: [],
  });
  await applyTemplateGrants({
    admin: adminCredential,
    subscriptionId: sub,
    appPrincipalId: app.objectId,
    encryptionMode: 'encryption-at-host',
    parameters: { enableSelfHealingRestart: true },
  });
  appCompute = new ComputeAdapter(new ClientSecretCredential(h.sim.seed.tenantId, app.appId, app.clientSecret), { pollIntervalMs: 100 });
});
afterAll(async () => {
  await h?.stop();
});

describe('a new VM in encryption-at-host mode, per heal action', () => {
  // A Wednesday; the window opens on the Saturday after.
  const wednesday = new Date('2026-12-02T10:00:00Z');
  it.each([
    { heal: 'restart', window: undefined, outcome: 'encrypted', enabled: true, event: 'AdeAutopilot.VmEncrypted', waited: false },
    {
      heal: 'maintenance-window',
      window: 'Sat 01:00-03:00',
      outcome: 'encrypted',
      enabled: true,
      event: 'AdeAutopilot.VmEncrypted',
      waited: true,
    },
    {
      heal: 'notify-only',
      window: undefined,
      outcome: 'action-required',
      enabled: false,
      event: 'AdeAutopilot.ActionRequired',
      waited: false,
    },
  ] as const)('$heal: $outcome, the VM running afterwards', async ({ heal, window, outcome, enabled, event, waited }) => {
    const name = `new-${heal}`;
    const vmId = await seedVm(name);
    const { output, events, driver } = await run(
      vmId,
      { heal: { action: heal, ...(window ? { window: parseMaintenanceWindow(window) } : {}) } },
      wednesday,
    );
    expect(output.outcome, output.reason).toBe(outcome);
    expect(await model(name)).toEqual({ encryptionAtHost: enabled, power: 'running' });
    expect(events.map((e) => e.eventType)).toEqual([event]);
    expect(events[0]!.data).toMatchObject({ orchestration: 'encryptAtHost', action: 'encrypt-at-host', vmId });
    expect(driver.timers.length > 0).toBe(waited);
    if (waited) expect(driver.timers[0]!.fireAt).toBe('2026-12-05T01:00:00.000Z');
    if (enabled)
      expect(output.steps).toEqual(expect.arrayContaining(['deallocated', 'enabled securityProfile.encryptionAtHost', 'started']));
  });

  it('a deallocated VM is enabled as it is and stays deallocated, even with notify-only', async () => {
    const vmId = await seedVm('new-deallocated', { powerState: 'deallocated' });
    const { output } = await run(vmId, { heal: { action: 'notify-only' } });
    expect(output).toMatchObject({ outcome: 'encrypted', steps: ['enabled securityProfile.encryptionAtHost', expect.any(String)] });
    expect(await model('new-deallocated')).toEqual({ encryptionAtHost: true, power: 'deallocated' });
  });
});

describe('refusals, with the reason, changing nothing', () => {
  it.each([
    {
      name: 'ref-feature',
      why: 'feature',
      vm: {},
      outcome: 'action-required',
      reason: /Microsoft\.Compute\/EncryptionAtHost feature is NotRegistered/,
    },
    {
      name: 'ref-size',
      why: 'size',
      vm: { vmSize: 'Standard_A1_v2' },
      outcome: 'action-required',
      reason: /Standard_A1_v2 does not support/,
    },
  ] as const)('$why: $outcome', async ({ name, why, vm, outcome, reason }) => {
    const vmId = await seedVm(name, vm);
    if (why === 'feature') await setFeature('NotRegistered');
    try {
      const { output, events } = await run(vmId, { heal: { action: 'restart' } });
      expect(output.outcome).toBe(outcome);
      expect(output.reason).toMatch(reason);
      expect(events.map((e) => e.eventType)).toEqual(['AdeAutopilot.ActionRequired']);
      expect(await model(name)).toEqual({ encryptionAtHost: false, power: 'running' });
    } finally {
      await setFeature('Registered');
    }
  });

  it('a VM on ADE is refused (the two cannot be combined) and left as it is', async () => {
    const vmId = await seedVm('ref-ade');
    await h.control('POST', '/_sim/arm/vaults', {
      subscriptionId: sub,
      resourceGroup: RG,
      name: 'eahadevault1',
      enabledForDiskEncryption: true,
    });
    await admin.virtualMachineExtensions.beginCreateOrUpdateAndWait(RG, 'ref-ade', 'AzureDiskEncryption', {
      location: 'westeurope',
      publisher: 'Microsoft.Azure.Security',
      typePropertiesType: 'AzureDiskEncryption',
      typeHandlerVersion: '2.2',
      settings: {
        EncryptionOperation: 'EnableEncryption',
        KeyVaultURL: 'https://eahadevault1.vault.azure.net',
        KeyVaultResourceId: `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/eahadevault1`,
        VolumeType: 'All',
      },
    });
    const { output, events } = await run(vmId, { heal: { action: 'restart' } });
    expect(output.outcome).toBe('skipped');
    expect(output.reason).toMatch(/has, or once had, Azure Disk Encryption.*GET \/api\/migration/);
    expect(events).toEqual([]);
    expect(await model('ref-ade')).toEqual({ encryptionAtHost: false, power: 'running' });
  });
});

it('a failure after the deallocation is reported and the VM is started again', async () => {
  const vmId = await seedVm('fail-enable');
  await h.control('POST', '/_sim/faults', {
    service: 'arm',
    operation: 'Microsoft.Compute/virtualMachines/write',
    method: 'PATCH',
    status: 409,
    code: 'OperationNotAllowed',
    message: 'Injected: the update was refused.',
    failNext: 1,
  });
  const { output, events } = await run(vmId, { heal: { action: 'restart' } });
  expect(output.outcome).toBe('failed');
  expect(output.reason).toMatch(/Injected: the update was refused.*started again without encryption at host/);
  expect(output.steps).toEqual(['deallocated', 'started again (rolled back)']);
  expect(events.map((e) => e.eventType)).toEqual(['AdeAutopilot.EncryptionFailed']);
  expect(await model('fail-enable')).toEqual({ encryptionAtHost: false, power: 'running' });
});

it('the starters pick encryptAtHost: a VM write in this mode starts it under the VM’s instance id, with the heal settings', async () => {
  const vmId = await seedVm('starter');
  const started: Array<{ name: string; input: unknown }> = [];
  const client = {
    getStatus: async () => {
      throw new Error('404 not found');
    },
    startNew: async (name: string, options: { instanceId: string; input: unknown }) => {
      started.push({ name, input: options.input });
      return options.instanceId;
    },
  };
  const policy = policyOf();
  const report = await handleVmWritten(
    {
      id: 'evt-1',
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      subject: vmId,
      eventTime: new Date().toISOString(),
      dataVersion: '2',
      topic: `/subscriptions/${sub}`,
      data: { resourceUri: vmId, operationName: 'Microsoft.Compute/virtualMachines/write', status: 'Succeeded', subscriptionId: sub },
    },
    {
      policy,
      getVm: (id) => appCompute.getVm(id, { instanceView: true }),
      start: (id) => startEncryptVm(client as never, id, policy, { heal: { action: 'notify-only' } }),
      selfObjectId: async () => undefined,
      log: () => undefined,
    },
  );
  expect(report.vms).toMatchObject([{ vmId, action: 'started' }]);
  expect(started).toEqual([{ name: 'encryptAtHost', input: { vmId, policy, heal: { action: 'notify-only' } } }]);
});
