/**
 * Two simulator behaviours the BEK self-healing proof needs:
 *  - after the guest loses its BEK files, the ADE extension's instance view reports it in the documented
 *    forms (https://learn.microsoft.com/azure/virtual-machines/linux/disk-encryption-troubleshooting), the app's
 *    readers recognise them, and deallocate + start re-attaches the BEK volume from the vault (only when the vault
 *    allows disk encryption and the secret is there);
 *  - Azure Policy compliance states raised as Microsoft.PolicyInsights events through a
 *    Microsoft.PolicyInsights.PolicyStates system topic
 *    (https://learn.microsoft.com/azure/event-grid/event-schema-policy).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ComputeManagementClient, type VirtualMachineExtension } from '@azure/arm-compute';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpretEncryptionState } from '../../../core/encryption-state';
import { bekHealthOf } from '../../../core/remediation/bek';
import { toVmSnapshot } from '../../../azure/compute-mapping';
import type { Simulator } from '../../../local/azure-sim/index';
import { FAST_POLL, control, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
let kv: KeyVaultManagementClient;
let webhook: Server;
let hookBase: string;
const received: Array<{ path: string; events: any[] }> = [];
const RG = 'rg-bekpol';
const VAULT = 'kv-bekpol';
let vaultId: string;

const EXT: Record<'Windows' | 'Linux', { name: string; type: string; version: string }> = {
  Windows: { name: 'AzureDiskEncryption', type: 'AzureDiskEncryption', version: '2.2' },
  Linux: { name: 'AzureDiskEncryptionForLinux', type: 'AzureDiskEncryptionForLinux', version: '1.1' },
};

async function encryptedVm(name: string, os: 'Windows' | 'Linux'): Promise<string> {
  const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(
    RG,
    name,
    {
      location: 'westeurope',
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { osDisk: { createOption: 'FromImage', osType: os }, dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 32 }] },
      osProfile: { computerName: name, adminUsername: 'azureuser', adminPassword: 'Not-Returned-1!' },
    },
    FAST_POLL,
  );
  const ext: VirtualMachineExtension = {
    location: 'westeurope',
    publisher: 'Microsoft.Azure.Security',
    typePropertiesType: EXT[os].type,
    typeHandlerVersion: EXT[os].version,
    autoUpgradeMinorVersion: true,
    settings: {
      EncryptionOperation: 'EnableEncryption',
      KeyVaultURL: `https://${VAULT}.vault.azure.net/`,
      KeyVaultResourceId: vaultId,
      VolumeType: 'All',
      SequenceVersion: crypto.randomUUID(),
    },
  };
  await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(RG, name, EXT[os].name, ext, FAST_POLL);
  return vm.id!;
}

/** The VM as the app reads it (model + instance view), through the app's own mapping. */
async function snapshot(name: string) {
  return toVmSnapshot(await compute.virtualMachines.get(RG, name, { expand: 'instanceView' }));
}

const guest = async (id: string) =>
  (
    await control<{ guest: { boot: string; bekFiles: Array<{ name: string; secretUrl: string }> } }>(
      sim,
      'GET',
      `/_sim/arm/vms/guest?id=${encodeURIComponent(id)}`,
    )
  ).body.guest;
const cycle = async (name: string) => {
  await compute.virtualMachines.beginDeallocateAndWait(RG, name, FAST_POLL);
  await compute.virtualMachines.beginStartAndWait(RG, name, FAST_POLL);
};

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  kv = new KeyVaultManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vault = await kv.vaults.beginCreateOrUpdateAndWait(
    RG,
    VAULT,
    {
      location: 'westeurope',
      properties: {
        tenantId: sim.seed.tenantId,
        sku: { family: 'A', name: 'standard' },
        enabledForDiskEncryption: true,
        accessPolicies: [
          { tenantId: sim.seed.tenantId, objectId: sim.seed.clientObjectId, permissions: { keys: ['all'], secrets: ['all'] } as never },
        ],
      },
    },
    FAST_POLL,
  );
  vaultId = vault.id!;
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as any[];
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ validationResponse: events[0].data.validationCode }));
      }
      received.push({ path: req.url ?? '', events });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  hookBase = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  await new Promise((resolve) => (webhook ? webhook.close(resolve) : resolve(undefined)));
});

describe('BEK files missing in the guest', () => {
  it.each([
    ['Windows', /^\[2\.2\.0\.36\] BEK file not found on the BEK volume \([0-9a-f-]{36}\.BEK, [0-9a-f-]{36}\.BEK\)/, []],
    [
      'Linux',
      /^BEK disk is missing or not initialized\.$/,
      [
        'Cannot find current passphrase file. This could happen if BEK volume is not mounted or ' +
          'LinuxPassPhrase file is missing from BEK volume.',
      ],
    ],
  ] as const)(
    '%s: the extension reports it in the documented form, the app recognises it, deallocate + start clears it',
    async (os, statusMessage, substatusMessages) => {
      const name = `bek-${os.toLowerCase()}`;
      const id = await encryptedVm(name, os);
      const filesBefore = (await guest(id)).bekFiles;
      expect(filesBefore.length).toBeGreaterThan(0);
      expect(bekHealthOf(await snapshot(name))).toMatchObject({ status: 'healthy' });

      const deleted = await control<{ removed: number }>(sim, 'POST', '/_sim/arm/vms/deleteBek', { id });
      expect(deleted.body.removed).toBe(filesBefore.length);

      // Both reads the app uses show it: the VM instance view and the extension with $expand=instanceView.
      const vmView = (await compute.virtualMachines.get(RG, name, { expand: 'instanceView' })).instanceView!.extensions!.find(
        (e) => e.name === EXT[os].name,
      )!;
      const extView = (await compute.virtualMachineExtensions.get(RG, name, EXT[os].name, { expand: 'instanceView' })).instanceView!;
      for (const view of [vmView, extView]) {
        expect(view.statuses).toHaveLength(1);
        expect(view.statuses![0]).toMatchObject({
          level: 'Error',
          displayStatus: 'Provisioning failed',
          code: os === 'Linux' ? 'ProvisioningState/failed/52' : 'ProvisioningState/failed',
        });
        expect(view.statuses![0]!.message).toMatch(statusMessage);
        expect((view.substatuses ?? []).map((s) => s.message)).toEqual(substatusMessages);
      }
      // The extension resource itself stays provisioned: only the guest's report changes.
      expect((await compute.virtualMachineExtensions.get(RG, name, EXT[os].name)).provisioningState).toBe('Succeeded');
      const health = bekHealthOf(await snapshot(name));
      expect(health.status).toBe('bek-missing');
      expect(
        interpretEncryptionState({
          os,
          extension: {
            typeHandlerVersion: EXT[os].version,
            statuses: extView.statuses as never,
            substatuses: extView.substatuses as never,
          },
        }).kind,
      ).toBe('bek-missing');

      // A reboot in place does not re-attach the BEK volume: the guest cannot unlock its volumes.
      await compute.virtualMachines.beginRestartAndWait(RG, name, FAST_POLL);
      expect(await guest(id)).toMatchObject({ boot: os === 'Windows' ? 'BitLockerRecovery' : 'PassphrasePrompt', bekFiles: [] });

      await cycle(name);
      expect((await guest(id)).boot).toBe('ok');
      expect((await guest(id)).bekFiles.map((f) => f.secretUrl).sort()).toEqual(filesBefore.map((f) => f.secretUrl).sort());
      expect(bekHealthOf(await snapshot(name))).toMatchObject({ status: 'healthy', state: 'encrypted' });
    },
    60_000,
  );

  it.each([
    ['the vault no longer allows disk encryption', 'Windows', 'BitLockerRecovery'],
    ['the BEK secret is soft-deleted', 'Linux', 'PassphrasePrompt'],
    ['the BEK secret is disabled', 'Windows', 'BitLockerRecovery'],
  ] as const)(
    '%s: deallocate + start cannot re-attach the BEK volume (%s stays at %s) until it is fixed',
    async (what, os, stuck) => {
      const name = `stuck-${what.split(' ').pop()}-${os.toLowerCase()}`;
      const id = await encryptedVm(name, os);
      await control(sim, 'POST', '/_sim/arm/vms/deleteBek', { id });
      const secretNames = [
        ...new Set(
          (await snapshot(name))
            .instanceView!.disks!.flatMap((d) => d.encryptionSettings ?? [])
            .map((s) => s.diskEncryptionKey!.secretUrl.split('/')[4]!),
        ),
      ];
      const secrets = new SecretClient(`https://${VAULT}.vault.azure.net`, credential);
      const setEnabled = async (enabled: boolean) => {
        for (const s of secretNames)
          expect((await control(sim, 'PATCH', `/_sim/keyvault/vaults/${VAULT}/secrets/${s}`, { enabled })).status).toBe(200);
      };
      const [breakIt, fixIt] = what.includes('vault')
        ? [
            () => kv.vaults.update(RG, VAULT, { properties: { enabledForDiskEncryption: false } }),
            () => kv.vaults.update(RG, VAULT, { properties: { enabledForDiskEncryption: true } }),
          ]
        : what.includes('disabled')
          ? [() => setEnabled(false), () => setEnabled(true)]
          : [
              async () => {
                for (const s of secretNames) await (await secrets.beginDeleteSecret(s, { intervalInMs: 50 })).pollUntilDone();
              },
              async () => {
                for (const s of secretNames) await (await secrets.beginRecoverDeletedSecret(s, { intervalInMs: 50 })).pollUntilDone();
              },
            ];
      await breakIt();
      await cycle(name);
      expect(await guest(id)).toMatchObject({ boot: stuck, bekFiles: [] });
      const agent = (await compute.virtualMachines.instanceView(RG, name)).vmAgent!.statuses![0]!;
      expect(agent.displayStatus).toBe('Not Ready');
      await fixIt();
      await cycle(name);
      expect((await guest(id)).boot).toBe('ok');
      expect(bekHealthOf(await snapshot(name))).toMatchObject({ status: 'healthy' });
    },
    60_000,
  );
});

describe('Policy Insights events', () => {
  const sub = () => sim.seed.subscriptionId;
  const assignment = () => `/subscriptions/${sub()}/providers/microsoft.authorization/policyassignments/ade-audit`;
  const definition = '/providers/microsoft.authorization/policydefinitions/3dc5edcd-002d-444c-b216-e123bbfa37c0';
  const vmId = () => `/subscriptions/${sub()}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/pol-vm`;
  const policyEvents = () => received.filter((r) => r.path === '/policy').flatMap((r) => r.events);
  const armEvents = () => received.filter((r) => r.path === '/arm').flatMap((r) => r.events);
  const settle = async (until: () => boolean) => {
    for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 25));
  };

  it('a PolicyStates system topic gets Created, then Changed; the same state raises nothing; ARM topics never see them', async () => {
    const eg = new EventGridManagementClient(credential, sub());
    // A subscription may be the source of an ARM-events topic and a policy-states topic at the same time.
    await eg.systemTopics.beginCreateOrUpdateAndWait(
      RG,
      'arm',
      { location: 'global', source: `/subscriptions/${sub()}`, topicType: 'Microsoft.Resources.Subscriptions' },
      FAST_POLL,
    );
    const topic = await eg.systemTopics.beginCreateOrUpdateAndWait(
      RG,
      'policy',
      { location: 'global', source: `/subscriptions/${sub()}`, topicType: 'microsoft.policyinsights.policystates' },
      FAST_POLL,
    );
    expect(topic.topicType).toBe('Microsoft.PolicyInsights.PolicyStates');
    const second = await eg.systemTopics
      .beginCreateOrUpdateAndWait(
        RG,
        'policy-2',
        { location: 'global', source: `/subscriptions/${sub()}`, topicType: 'Microsoft.PolicyInsights.PolicyStates' },
        FAST_POLL,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(String(second)).toMatch(/Only one system topic is allowed per source/);
    for (const [topicName, path] of [
      ['arm', '/arm'],
      ['policy', '/policy'],
    ]) {
      await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
        RG,
        topicName!,
        `to-${topicName}`,
        { destination: { endpointType: 'WebHook', endpointUrl: `${hookBase}${path}` } as never },
        FAST_POLL,
      );
    }

    const record = (complianceState: string, timestamp: string) =>
      control<{ published: string | null; state: Record<string, string> }>(sim, 'POST', '/_sim/arm/policy/states', {
        resourceId: vmId(),
        policyAssignmentId: assignment(),
        policyDefinitionId: definition,
        complianceState,
        timestamp,
      });
    const steps: Array<[string, string, string | null]> = [
      ['NonCompliant', '2026-11-27T10:00:00Z', 'Microsoft.PolicyInsights.PolicyStateCreated'],
      ['NonCompliant', '2026-11-27T11:00:00Z', null],
      ['Compliant', '2026-11-27T12:00:00Z', 'Microsoft.PolicyInsights.PolicyStateChanged'],
    ];
    for (const [state, timestamp, expected] of steps) {
      const res = await record(state, timestamp);
      expect(res.status).toBe(200);
      expect(res.body.published).toBe(expected);
    }
    await settle(() => policyEvents().length >= 2);
    const events = policyEvents();
    expect(events.map((e) => e.eventType)).toEqual([
      'Microsoft.PolicyInsights.PolicyStateCreated',
      'Microsoft.PolicyInsights.PolicyStateChanged',
    ]);
    expect(events[0]).toMatchObject({
      topic: `/subscriptions/${sub()}`,
      subject: vmId(),
      dataVersion: '1',
      metadataVersion: '1',
      data: {
        timestamp: '2026-11-27T10:00:00Z',
        policyAssignmentId: assignment(),
        policyDefinitionId: definition,
        policyDefinitionReferenceId: '',
        complianceState: 'NonCompliant',
        subscriptionId: sub(),
        complianceReasonCode: '',
      },
    });
    expect(events[1].data).toMatchObject({ complianceState: 'Compliant', timestamp: '2026-11-27T12:00:00Z' });
    expect(armEvents().some((e) => String(e.eventType).startsWith('Microsoft.PolicyInsights.'))).toBe(false);
    const listed = await control<{ value: Array<{ complianceState: string }> }>(sim, 'GET', '/_sim/arm/policy/states');
    expect(listed.body.value).toEqual([expect.objectContaining({ complianceState: 'Compliant' })]);
  }, 60_000);

  it.each<[string, Record<string, string>, RegExp]>([
    ['no resourceId', { policyAssignmentId: 'a', policyDefinitionId: 'd', complianceState: 'NonCompliant' }, /'resourceId'/],
    [
      'a resourceId outside a subscription',
      { resourceId: '/providers/x', policyAssignmentId: 'a', policyDefinitionId: 'd', complianceState: 'NonCompliant' },
      /under \/subscriptions/,
    ],
    [
      'an unknown compliance state',
      { resourceId: 'VM', policyAssignmentId: 'a', policyDefinitionId: 'd', complianceState: 'Bad' },
      /'complianceState' must be/,
    ],
    [
      'a bad timestamp',
      { resourceId: 'VM', policyAssignmentId: 'a', policyDefinitionId: 'd', complianceState: 'Compliant', timestamp: 'yesterday' },
      /'timestamp'/,
    ],
  ])('refuses %s with a 400 naming the problem', async (_label, body, message) => {
    const withVm = { ...body, ...(body.resourceId === 'VM' ? { resourceId: vmId() } : {}) };
    const res = await control<{ error: { code: string; message: string } }>(sim, 'POST', '/_sim/arm/policy/states', withVm);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });
});
