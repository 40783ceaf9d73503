/**
 * Without any secretEvents destination (no ADE_FUNCTION_APP_RESOURCE_ID, no local webhook; only possible
 * off the platform, where core/config cannot insist) a run fails at vault provisioning with the reason,
 * instead of silently falling back to slow status polling for every VM, and the vault is not recorded
 * as wired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { HUB_KEYS, startPipeline, type Pipeline } from './harness';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, settings: { ADE_SECRET_EVENTS_WEBHOOK_URL: '' } });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

describe('no secretEvents destination', () => {
  it('fails the run with the reason and leaves the vault unwired', async () => {
    const vmId = await p.createVm('no-destination', { os: 'Windows' });
    const instanceId = orchestrationInstanceId(vmId);
    const deadline = Date.now() + 30_000;
    while (!(await p.getInstance(instanceId))) {
      if (Date.now() > deadline) throw new Error('no run started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await p.waitForInstance(instanceId, 90_000);
    expect(status.output.outcome).toBe('failed');
    expect(status.output.reason).toMatch(
      /^ensureSecretEventSubscription: No secretEvents destination is configured, so vault adeap-\S+ cannot get its Key Vault event subscription: set ADE_FUNCTION_APP_RESOURCE_ID/,
    );
    await p.host.durable.idle();
    const entity = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${status.output.vaultName}?code=${HUB_KEYS.durable}`);
    // The failed holder released its lease and set nothing: the next run provisions (and fails) again.
    expect(entity.status, await entity.clone().text()).toBe(404);
  }, 120_000);
});
