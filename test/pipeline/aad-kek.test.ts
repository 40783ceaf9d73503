/**
 * aad (dual-pass) with a KEK, on the local host against the simulator: Windows and Linux happy
 * paths, one orchestration per VM despite duplicate and self-induced events, the short-lived
 * credential removed, the HTTP starter, and no secret anywhere in history, logs or status.
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateRoleGrants } from '../../local/start/template-grants';
import { DUAL_PASS_DATA_LUNS_TAG } from '../../core/eligibility';
import { orchestrationInstanceId, vaultName } from '../../core/names';
import { eventually, startPipeline, VAULT_RG, type Pipeline } from './harness';
import {
  appRequests,
  expectEncrypted,
  expectOneVaultAppWithoutPasswords,
  issuedSecrets,
  observableText,
  plantVaultState,
  recordIssuedPasswords,
  secretHits,
  vmParts,
  waitForStarted,
} from './checks';

/** The simulator's state, as much of it as these checks read. */
async function simState(): Promise<{
  arm: { vaults: Record<string, unknown>; disks: Record<string, { id: string; encryptionState?: string }> };
}> {
  return p.control('POST', '/_sim/state/snapshot');
}

let p: Pipeline;
let recorded: string[] = [];
const vms: Record<'Windows' | 'Linux', string> = { Windows: '', Linux: '' };

beforeAll(async () => {
  p = await startPipeline({ mode: 'aad', kek: true });
  recorded = recordIssuedPasswords(p);
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

describe('aad + KEK', () => {
  it.each(['Windows', 'Linux'] as const)(
    'encrypts a new %s VM end to end (event → model update → verified)',
    async (os) => {
      vms[os] = await p.createVm(`aadkek-${os.toLowerCase()}`, { os });
      const status = await expectEncrypted(p, { vmId: vms[os], os, mode: 'aad', kek: true });
      expect(status.output.vaultName).toMatch(/^adeap-weu-/);
      expect(status.output.secretUrl).toMatch(new RegExp(`^https://${status.output.vaultName}\\.vault\\.azure\\.net/secrets/`));
    },
    120_000,
  );

  it('removed the short-lived password: the vault app keeps no credential', async () => {
    await expectOneVaultAppWithoutPasswords(p);
  });

  it('ran exactly one orchestration per VM despite duplicate and self-induced write events', async () => {
    // VM creation produced two writes, and the extension PUT and the model PATCH produced more
    // virtualMachines/write events (by the app itself). Redeliver the creation events on top.
    const instances = await p.listInstances();
    const ours = instances.filter((i) => i.name === 'encryptVm');
    expect(ours.map((i) => i.instanceId).sort()).toEqual([vms.Windows, vms.Linux].map((id) => orchestrationInstanceId(id)).sort());
    const before = ours.map((i) => i.lastUpdatedTime).sort();
    const selfWrites = p.host.logs.filter((l) => String(l.message).includes('written by ade-autopilot itself'));
    expect(selfWrites.length).toBeGreaterThanOrEqual(2);

    const redelivered = [vms.Windows, vms.Windows, vms.Linux].map((vmId, i) => ({
      id: `dup-${i}`,
      topic: `/subscriptions/${p.subscriptionId}`,
      subject: vmId,
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      eventTime: new Date().toISOString(),
      dataVersion: '2',
      metadataVersion: '1',
      data: {
        operationName: 'Microsoft.Compute/virtualMachines/write',
        resourceUri: vmId,
        status: 'Succeeded',
        subscriptionId: p.subscriptionId,
        claims: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': p.user.objectId },
      },
    }));
    for (const event of redelivered) {
      const res = await p.host.postEventGrid('vmWritten', [event]);
      expect(res.status).toBe(202);
    }
    // The VMs are encrypted now: re-assessment says so and nothing new starts.
    const after = (await p.listInstances()).filter((i) => i.name === 'encryptVm');
    expect(after).toHaveLength(2);
    expect(after.map((i) => i.lastUpdatedTime).sort()).toEqual(before);
    const alreadyEncrypted = p.host.logs.filter((l) => /Already ADE-encrypted/.test(String(l.message)));
    expect(alreadyEncrypted.length).toBeGreaterThanOrEqual(3);
  });

  it('HTTP starter: 400 naming the problem for bad input, check-status response for a VM', async () => {
    const post = (body: string) =>
      p.host.fetch(`/api/vms/encrypt?code=${p.host.keys!.function}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const cases: Array<[string, RegExp]> = [
      ['not json', /must be JSON/],
      ['{}', /vmId is required/],
      ['{"vmId":"/subscriptions/x/resourceGroups/rg"}', /vmId/],
      [
        JSON.stringify({
          vmId: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x`,
        }),
        /not in ADE_SUBSCRIPTIONS/,
      ],
    ];
    for (const [body, problem] of cases) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(problem);
    }
    const unauthorised = await p.host.fetch('/api/vms/encrypt', { method: 'POST', body: JSON.stringify({ vmId: vms.Windows }) });
    expect(unauthorised.status).toBe(401);

    const res = await post(JSON.stringify({ vmId: vms.Windows }));
    expect(res.status).toBe(202);
    const payload = (await res.json()) as { instanceId: string; statusUri: string };
    expect(payload.instanceId).toBe(orchestrationInstanceId(vms.Windows));
    expect(payload.statusUri).toBe(`${p.host.baseUrl}/api/runs/${payload.instanceId}`);
    const done = await p.waitForInstance(payload.instanceId);
    expect(done.output).toMatchObject({ outcome: 'already-encrypted' });
  }, 60_000);

  it.each(['Windows', 'Linux'] as const)(
    'a data disk attached later to the encrypted %s VM: the write event re-runs dual-pass, encrypts it; no new vault, app or password',
    async (os) => {
      const { resourceGroup, name } = vmParts(vms[os]);
      const before = await p.compute.virtualMachines.get(resourceGroup, name);
      // The second pass recorded the data disk the run covered.
      expect(before.tags?.[DUAL_PASS_DATA_LUNS_TAG]).toBe('0');
      const instanceId = orchestrationInstanceId(vms[os]);
      const previous = (await p.getInstance(instanceId))!;
      const vaultsBefore = Object.keys((await simState()).arm.vaults).sort();

      await p.compute.virtualMachines.beginCreateOrUpdateAndWait(
        resourceGroup,
        name,
        {
          ...before,
          storageProfile: {
            ...before.storageProfile,
            dataDisks: [...(before.storageProfile?.dataDisks ?? []), { lun: 1, createOption: 'Empty', diskSizeGB: 32 }],
          },
        },
        { updateIntervalInMs: 50 },
      );
      const done = await eventually(
        'the re-run for the attached disk',
        async () => {
          const s = await p.getInstance(instanceId);
          return s && s.lastUpdatedTime !== previous.lastUpdatedTime && ['Completed', 'Failed'].includes(s.runtimeStatus) ? s : undefined;
        },
        120_000,
      );
      expect(done.output, JSON.stringify(done.output)).toMatchObject({
        outcome: 'encrypted',
        mode: 'aad',
        // The vault the first run used (the model's secret URL names it).
        vaultName: new URL(before.storageProfile!.osDisk!.encryptionSettings!.diskEncryptionKey!.secretUrl).hostname.split('.')[0],
      });

      const after = await p.compute.virtualMachines.get(resourceGroup, name);
      expect(after.tags?.[DUAL_PASS_DATA_LUNS_TAG]).toBe('0,1');
      const extension = (after.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security');
      const settings = (extension?.settings ?? {}) as Record<string, string>;
      // The same Entra app and KEK, volume type All, a new sequence version.
      const beforeSettings = ((before.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')?.settings ?? {}) as Record<
        string,
        string
      >;
      expect(settings).toMatchObject({
        AADClientID: beforeSettings.AADClientID,
        KeyEncryptionKeyURL: beforeSettings.KeyEncryptionKeyURL,
        VolumeType: 'All',
      });
      expect(settings.SequenceVersion).not.toBe(beforeSettings.SequenceVersion);
      expect(after.storageProfile?.osDisk?.encryptionSettings?.diskEncryptionKey?.secretUrl).toBe(done.output.secretUrl);

      const state = await simState();
      const newDiskId = after.storageProfile!.dataDisks!.find((d) => d.lun === 1)!.managedDisk!.id!.toLowerCase();
      const disk = Object.values(state.arm.disks).find((d) => d.id.toLowerCase() === newDiskId);
      expect(disk?.encryptionState).toBe('encrypted');
      expect(Object.keys(state.arm.vaults).sort()).toEqual(vaultsBefore);
      await expectOneVaultAppWithoutPasswords(p);
    },
    150_000,
  );

  it('leaves no secret the simulator issued in the history store, logs or status output', async () => {
    const secrets = await issuedSecrets(p, recorded);
    // Two BEK secrets (one per VM) and the short-lived passwords were issued during the runs.
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const texts = await observableText(p);
    expect(texts.some((t) => t.where.startsWith('host state'))).toBe(true);
    expect(secretHits(secrets, texts)).toEqual([]);
  });

  it('ran with exactly the template grants: no refusal on the way, only those assignments and OwnedBy, refused anything else', async () => {
    const app = p.appObjectId;
    const refusals = await p.control<{ value: Array<{ operation: string; path: string }> }>(
      'GET',
      `/_sim/requests?principal=${app}&status=403`,
    );
    expect(refusals.value).toEqual([]);
    const admin = new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret);
    const held: string[] = [];
    for await (const a of new AuthorizationManagementClient(admin, p.subscriptionId).roleAssignments.listForSubscription({
      filter: `principalId eq '${app}'`,
    }))
      held.push(`${a.roleDefinitionId!.split('/').pop()} @ ${a.scope}`);
    const expected = templateRoleGrants({ subscriptionId: p.subscriptionId, parameters: { vaultResourceGroupName: VAULT_RG } }).map(
      (g) => `${g.roleDefinitionGuid} @ ${g.scope}`,
    );
    expect(held.sort()).toEqual(expected.sort());
    const appCredential = new ClientSecretCredential(p.sim.seed.tenantId, p.sim.seed.clientId, p.sim.seed.clientSecret);
    const graphToken = (await appCredential.getToken('https://graph.microsoft.com/.default'))!.token;
    expect(JSON.parse(Buffer.from(graphToken.split('.')[1]!, 'base64url').toString()).roles).toEqual(['Application.ReadWrite.OwnedBy']);
    await expect(
      new ResourceManagementClient(appCredential, p.subscriptionId).resourceGroups.createOrUpdate('rg-not-the-apps', {
        location: 'westeurope',
      }),
    ).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });

  it("a forged vault entity naming the right vault but someone else's application fails the run; no password, no extension", async () => {
    const squatter = await p.control<{ appId: string; objectId: string; applicationObjectId: string }>('POST', '/_sim/principals', {
      displayName: 'squatter-app',
      graphPermissions: [],
    });
    const name = vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: p.subscriptionId, location: 'northeurope' });
    const url = `https://${name}.vault.azure.net`;
    const planted = {
      vault: { id: `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${name}`, name, url },
      kekUrl: `${url}/keys/ade-kek/0123456789abcdef0123456789abcdef`,
      app: { appObjectId: squatter.applicationObjectId, appId: squatter.appId, servicePrincipalObjectId: squatter.objectId },
      secretEvents: true,
    };
    const since = await plantVaultState(p, name, planted);
    const vmId = await p.createVm('aadkek-forged-app', { os: 'Linux', location: 'northeurope' });
    const instanceId = orchestrationInstanceId(vmId);
    await waitForStarted(p, instanceId);
    const done = await p.waitForInstance(instanceId, 120_000);
    expect(done.output).toMatchObject({ outcome: 'failed' });
    expect(done.output.reason).toMatch(/Refused to use application .* not an application the app owns with that client id/);
    const requests = await appRequests(p, since);
    // Only a read of it (to tell a foreign application from a deleted one); nothing written to it.
    expect(requests.filter((e) => e.path.includes(squatter.applicationObjectId)).map((e) => e.method)).toEqual(['GET']);
    expect(requests.filter((e) => /addPassword/i.test(e.path))).toEqual([]);
    const vm = await p.compute.virtualMachines.get('rg-app', 'aadkek-forged-app');
    expect((vm.resources ?? []).filter((r) => r.publisher === 'Microsoft.Azure.Security')).toEqual([]);
  }, 150_000);
});
