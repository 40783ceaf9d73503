/**
 * The vault provisioning lease end to end (single-pass, no KEK): a run finding the vault leased by a
 * holder that never finishes waits on a durable timer, takes the lease over at its deadline and
 * encrypts; a holder that keeps the vault past the run's bounded wait makes the run fail with the
 * reason instead of waiting forever. The stray holder is planted with a signal to the `vault` entity.
 * Real time throughout: the planted lease runs out in seconds, and the bounded wait ends at the run's own deadline,
 * shortened for the local host through ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, vaultName } from '../../core/names';
import { HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { expectEncrypted } from './checks';

let p: Pipeline;

beforeAll(async () => {
  // The bounded wait ends at the run's own deadline, here 60 s (local-only settings; Azure's 30-min bound is the same code).
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: { ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '60', ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30' },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

/** Plants a lease for a holder that will never provision (a run that died), as the entity's `acquire` would. */
async function plantLease(p: Pipeline, location: string, holder: string, forSeconds: number): Promise<{ name: string; until: number }> {
  const name = vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: p.subscriptionId, location });
  const now = p.host.clock.now();
  const until = now + forSeconds * 1_000;
  const res = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${name}?op=acquire&code=${HUB_KEYS.durable}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ holder, now: new Date(now).toISOString(), until: new Date(until).toISOString() }),
  });
  expect(res.status).toBe(202);
  await p.host.durable.idle();
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

  it('never trusts a cached ready state that names another vault: it provisions the computed one', async () => {
    const name = vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: p.subscriptionId, location: 'uksouth' });
    const planted = {
      vault: {
        id: `/subscriptions/${p.subscriptionId}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/${name}`,
        name,
        url: 'https://evil.vault.azure.net',
      },
      secretEvents: true,
    };
    const res = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${name}?op=set&code=${HUB_KEYS.durable}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ holder: 'someone-else', ready: planted }),
    });
    expect(res.status).toBe(202);
    await p.host.durable.idle();
    const vmId = await p.createVm('lease-untrusted', { os: 'Windows', location: 'uksouth' });
    await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: false }, 120_000);
    const vm = await p.compute.virtualMachines.get('rg-app', 'lease-untrusted');
    const settings = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')?.settings as Record<string, string>;
    expect(settings.KeyVaultResourceId.toLowerCase()).toBe(
      `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${name}`.toLowerCase(),
    );
    expect(settings.KeyVaultURL).toMatch(new RegExp(`^https://${name}\\.vault\\.azure\\.net`));
    expect(await vaultEntity(p, name)).toMatchObject({
      vault: { id: expect.stringMatching(new RegExp(`/resourceGroups/${VAULT_RG}/`, 'i')), url: expect.stringContaining(name) },
    });
  }, 150_000);
});
