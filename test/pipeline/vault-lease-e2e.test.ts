/**
 * The vault provisioning lease end to end (single-pass, no KEK): a run finding the vault leased by a
 * holder that never finishes waits on a durable timer, takes the lease over at its deadline and
 * encrypts; a holder that keeps the vault past the run's bounded wait makes the run fail with the
 * reason instead of waiting forever. The stray holder is planted with a signal to the `vault` entity.
 * Real time throughout: the planted lease runs out in seconds, and the bounded wait ends at the run's own deadline,
 * shortened for the local host through ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS.
 */
import { randomUUID } from 'node:crypto';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, VAULT_KEY_TAG, vaultName, vaultNamesFor } from '../../core/names';
import { HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { appRequests, expectEncrypted, plantVaultState, signalVaultEntity, waitForStarted } from './checks';

let p: Pipeline;
const SALT = 'lease-e2e-salt';
/** The first-choice name and its fallbacks for a region, as the app computes them (salted). */
const namesFor = (location: string): string[] =>
  vaultNamesFor({ strategy: 'per-region', namePrefix: 'adeap', nameSalt: SALT }, { id: '', subscriptionId: p.subscriptionId, location });

beforeAll(async () => {
  // The bounded wait ends at the run's own deadline, here 60 s (local-only settings; Azure's 30-min bound is the same code).
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: {
      ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '60',
      ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30',
      ADE_VAULT_NAME_SALT: SALT,
    },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

/** Plants a lease for a holder that will never provision (a run that died), as the entity's `acquire` would. */
async function plantLease(p: Pipeline, location: string, holder: string, forSeconds: number): Promise<{ name: string; until: number }> {
  const name = namesFor(location)[0]!;
  const now = p.host.clock.now();
  const until = now + forSeconds * 1_000;
  await signalVaultEntity(p, name, 'acquire', { holder, now: new Date(now).toISOString(), until: new Date(until).toISOString() });
  return { name, until };
}

async function vaultEntity(p: Pipeline, name: string): Promise<any> {
  const res = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${name}?code=${HUB_KEYS.durable}`);
  return res.status === 200 ? res.json() : undefined;
}

describe('vault lease (no critical sections in the bundled Durable extension)', () => {
  it('takes over the lease of a holder that died once its deadline passes, then encrypts', async () => {
    const ghost = await plantLease(p, 'westeurope', 'encrypt-ghost-run', 15);
    const vmId = await p.createVm('lease-takeover', { os: 'Linux' });
    const status = await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false }, 120_000);
    expect(status.output.vaultName).toBe(ghost.name);
    // It waited for the stray lease's deadline (host time) before provisioning.
    expect(Date.parse(status.lastUpdatedTime)).toBeGreaterThanOrEqual(ghost.until);
    const state = await vaultEntity(p, ghost.name);
    expect(state).toMatchObject({ vault: { name: ghost.name }, secretEvents: true });
    expect(state.lease).toBeUndefined();
  }, 150_000);

  it("gives up with the reason when the vault stays leased beyond the run's bounded wait", async () => {
    const ghost = await plantLease(p, 'northeurope', 'encrypt-stuck-run', 10 * 60 * 60);
    const vmId = await p.createVm('lease-stuck', { os: 'Windows', location: 'northeurope' });
    const instanceId = orchestrationInstanceId(vmId);
    const deadline = Date.now() + 30_000;
    while (!(await p.getInstance(instanceId))) {
      if (Date.now() > deadline) throw new Error('no run started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await p.waitForInstance(instanceId, 120_000);
    expect(status.output).toMatchObject({ outcome: 'failed', vaultName: ghost.name });
    // It waited until its own deadline (60 s here), not forever and not less.
    expect(Date.parse(status.lastUpdatedTime) - Date.parse(status.createdTime)).toBeGreaterThanOrEqual(59_000);
    expect(status.output.reason).toMatch(
      new RegExp(
        `^Vault ${ghost.name} was still being prepared by encrypt-stuck-run \\(lease until .+\\); gave up waiting after \\d+ min$`,
      ),
    );
    // Nothing was provisioned behind the holder's back.
    expect(await vaultEntity(p, ghost.name)).toEqual({
      lease: { holder: 'encrypt-stuck-run', until: new Date(ghost.until).toISOString() },
    });
  }, 150_000);

  it('a forged entity `set` to a foreign vault fails the run with a reason, writes nothing there; the next run encrypts', async () => {
    // The attacker's own vault, which they want new VMs' disk keys to go to.
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    const evil = await kv.vaults.beginCreateOrUpdateAndWait('rg-app', 'evil-kv-0001', {
      location: 'uksouth',
      properties: { tenantId: p.user.tenantId, sku: { family: 'A', name: 'standard' }, accessPolicies: [], enabledForDiskEncryption: true },
    });
    const name = namesFor('uksouth')[0]!;
    const planted = {
      vault: { id: evil.id!, name: evil.name!, url: evil.properties!.vaultUri!.replace(/\/$/, '') },
      kekUrl: `${evil.properties!.vaultUri!}keys/ade-kek/0123456789abcdef`,
      secretEvents: true,
    };
    const since = await plantVaultState(p, name, planted);
    const vmId = await p.createVm('lease-untrusted', { os: 'Windows', location: 'uksouth' });
    const instanceId = orchestrationInstanceId(vmId);
    await waitForStarted(p, instanceId);
    const failed = await p.waitForInstance(instanceId, 120_000);
    expect(failed.output).toMatchObject({ outcome: 'failed' });
    expect(failed.output.reason).toMatch(
      new RegExp(`^The vault entity ${name} held state this run does not trust \\(vault evil-kv-0001 is not one of the names computed`),
    );
    // Nothing went to the foreign vault: no request of the app names it, and the VM has no extension.
    expect((await appRequests(p, since)).filter((e) => /evil-kv-0001/i.test(`${e.path} ${e.host ?? ''}`))).toEqual([]);
    const untouched = await p.compute.virtualMachines.get('rg-app', 'lease-untrusted');
    expect((untouched.resources ?? []).filter((r) => r.publisher === 'Microsoft.Azure.Security')).toEqual([]);
    // The forged state was discarded: the next run provisions the computed vault and encrypts.
    expect(await vaultEntity(p, name)).toBeUndefined();
    const again = await p.host.fetch(`/api/vms/encrypt?code=${HUB_KEYS.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId }),
    });
    expect(again.status, await again.text()).toBe(202);
    await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: false }, 120_000);
    const vm = await p.compute.virtualMachines.get('rg-app', 'lease-untrusted');
    const settings = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')?.settings as Record<string, string>;
    expect(settings.KeyVaultResourceId.toLowerCase()).toBe(
      `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${name}`.toLowerCase(),
    );
  }, 200_000);

  it('vault names are salted, and a name held by another subscription falls back to the next one, recorded on the vault', async () => {
    const [first, second] = namesFor('francecentral');
    // Salted: not the name anyone who knows only the subscription id computes.
    expect(first).not.toBe(
      vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: p.subscriptionId, location: 'francecentral' }),
    );
    // Someone else registers the first-choice name in their own subscription (Key Vault names are global).
    const squatter = randomUUID();
    await p.control('PUT', `/_sim/arm/subscriptions/${squatter}`, {});
    await p.control('POST', '/_sim/arm/vaults', {
      subscriptionId: squatter,
      resourceGroup: 'rg-squat',
      name: first,
      location: 'francecentral',
    });
    const vmId = await p.createVm('name-taken', { os: 'Linux', location: 'francecentral' });
    const status = await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false }, 120_000);
    expect(status.output.vaultName).toBe(second);
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    const vault = await kv.vaults.get(VAULT_RG, second!);
    expect(vault.tags).toMatchObject({ [VAULT_KEY_TAG]: first, 'ade-autopilot/purpose': 'azure-disk-encryption' });
    // The squatter's vault is untouched, and the entity (keyed by the first-choice name) remembers the fallback.
    const onFirst = (await appRequests(p)).filter((e) => e.path.toLowerCase().includes(`/vaults/${first}`) && e.method !== 'GET');
    expect(onFirst.map((e) => `${e.method} ${e.status}`)).toEqual(['PUT 409']);
    expect(await vaultEntity(p, first!)).toMatchObject({ vault: { name: second } });
  }, 150_000);
});
