/**
 * Dry run (ADE_DRY_RUN=true, single-pass, no KEK): VM writes are assessed and the plan is logged,
 * but nothing starts and nothing is created in Azure; the HTTP starter answers with the plan.
 */
import { randomUUID } from 'node:crypto';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { orchestrationInstanceId, remediationInstanceId, vaultRemediationInstanceId } from '../../core/names';
import { HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { appRequests, armWrites } from './checks';
import { monitorAlert } from '../fixtures/signals';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, settings: { ADE_DRY_RUN: 'true' } });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

async function settle(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dry run', () => {
  it('logs the plan for new VMs and starts nothing', async () => {
    const windows = await p.createVm('dry-win', { os: 'Windows' });
    const skipped = await p.createVm('dry-skip', { os: 'Linux', tags: { 'ade-autopilot': 'skip' } });
    const planned = () => p.host.logs.filter((l) => /dry run, nothing started/.test(String(l.message)));
    await settle(() => planned().some((l) => String(l.message).includes(windows)));
    await settle(() =>
      p.host.logs.some((l) => String(l.message).includes(skipped) && /Skipped: The VM carries the exclusion tag/.test(String(l.message))),
    );
    expect(planned().some((l) => String(l.message).includes(skipped))).toBe(false);
    expect(await p.listInstances()).toEqual([]);
    const writes = armWrites(await appRequests(p));
    expect(writes).toEqual([]);
    const vaults = await p.control<{ vaults: number }>('GET', '/_sim/arm');
    expect(vaults.vaults).toBe(0);
  }, 60_000);

  it('HTTP starter returns the plan with 200 and starts nothing', async () => {
    const vmId = await p.createVm('dry-http', { os: 'Windows' });
    const res = await p.host.fetch(`/api/vms/encrypt?code=${p.host.keys!.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dryRun: true, vmId, decision: 'encrypt' });
    expect(await p.listInstances()).toEqual([]);
  }, 60_000);
});

describe('dry run on the remediation paths', () => {
  const post = (path: string, body: unknown) =>
    p.host.fetch(`${path}?code=${HUB_KEYS.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const changes = async (since: number) =>
    (await appRequests(p, since)).filter((e) => !['GET', 'HEAD'].includes(e.method) && !/token|oauth/i.test(`${e.operation} ${e.path}`));

  it('heal, alert and vault-drift signals report what they would do; the request log shows no write or power operation', async () => {
    const since = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
    const vmId = await p.createVm('dry-heal', { os: 'Linux' });
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    const vault = await kv.vaults.beginCreateOrUpdateAndWait(VAULT_RG, 'adeap-dry-0000000000001', {
      location: 'westeurope',
      properties: {
        tenantId: p.user.tenantId,
        sku: { family: 'A', name: 'standard' },
        enabledForDiskEncryption: false,
        accessPolicies: [],
      },
    });
    const userSince = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;

    expect((await post('/api/vms/heal', { vmId })).status).toBe(202);
    const healed = await p.waitForInstance(remediationInstanceId(vmId));
    expect(healed.output).toMatchObject({ action: 'encrypt', result: 'skipped', dryRun: true });
    expect(healed.output.detail).toMatch(/^Dry run \(ADE_DRY_RUN\): would encrypt the VM/);

    const alert = monitorAlert(p.subscriptionId, [vmId.toLowerCase()], 'dry');
    expect((await post('/api/alerts', alert)).status).toBe(202);
    expect((await p.waitForInstance(remediationInstanceId(vmId))).output).toMatchObject({ dryRun: true });

    const vaultEvent = {
      id: randomUUID(),
      topic: `/subscriptions/${p.subscriptionId}`,
      subject: vault.id!,
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      eventTime: new Date().toISOString(),
      dataVersion: '2',
      metadataVersion: '1',
      data: {
        resourceUri: vault.id!,
        operationName: 'Microsoft.KeyVault/vaults/write',
        status: 'Succeeded',
        subscriptionId: p.subscriptionId,
      },
    };
    expect((await p.host.postEventGrid('armDrift', [vaultEvent])).status).toBeLessThan(300);
    const repaired = await p.waitForInstance(vaultRemediationInstanceId(vault.id!));
    expect(repaired.output).toMatchObject({ action: 'repair-vault', result: 'skipped', dryRun: true });
    expect(repaired.output.detail).toMatch(/would repair vault adeap-dry-0000000000001/);

    expect(await changes(userSince)).toEqual([]);
    expect((await kv.vaults.get(VAULT_RG, 'adeap-dry-0000000000001')).properties.enabledForDiskEncryption).toBe(false);
    expect(armWrites(await appRequests(p, since))).toEqual([]);
  }, 120_000);
});

describe('a forged encryptVm start under ADE_DRY_RUN (someone holding the Durable system key)', () => {
  it('with dryRun false and no exclusions in its policy plans only: the app’s dry run decides, nothing is written', async () => {
    const vmId = await p.createVm('dry-forged', { os: 'Linux' });
    await p.host.durable.idle();
    const since = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
    const appPolicy = toEncryptionPolicy(loadConfig(process.env));
    expect(appPolicy.dryRun).toBe(true);
    const forged = {
      ...appPolicy,
      dryRun: false,
      vault: { ...appPolicy.vault, resourceGroup: 'rg-app', namePrefix: 'evil' },
      scope: { ...appPolicy.scope, exclusionTag: { name: 'no-such-tag' }, excludeResourceGroups: [] },
    };
    const instanceId = orchestrationInstanceId(vmId);
    const res = await p.host.fetch(`/runtime/webhooks/durabletask/orchestrators/encryptVm/${instanceId}?code=${HUB_KEYS.durable}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId, policy: forged }),
    });
    expect(res.status).toBe(202);
    const done = await p.waitForInstance(instanceId);
    expect(done.output, JSON.stringify(done.output)).toMatchObject({ outcome: 'skipped' });
    expect(done.output.reason).toMatch(/^Dry run \(ADE_DRY_RUN\): would /);
    const changes = (await appRequests(p, since)).filter(
      (e) => !['GET', 'HEAD'].includes(e.method) && !/token|oauth/i.test(`${e.operation} ${e.path}`),
    );
    expect(changes).toEqual([]);
    expect((await p.control<{ vaults: number }>('GET', '/_sim/arm')).vaults).toBe(1); // the remediation test's own vault only
  }, 60_000);
});
