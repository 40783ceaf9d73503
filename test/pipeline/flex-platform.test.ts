/**
 * The app as a Flex Consumption Function App (infra's default plan): the host presents Flex's platform
 * variables (no WEBSITE_RESOURCE_GROUP, a hash in WEBSITE_OWNER_NAME), the app takes its own resource id
 * from ADE_FUNCTION_APP_RESOURCE_ID, and the vault's Key Vault events reach secretEvents through an
 * AzureFunction destination — the run is woken by the event, not by fallback polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretEventSubscriptionName } from '../../core/names';
import { platformSiteResourceId, type PlatformOptions } from '../../local/host/runtime/platform';
import { startPipeline, VAULT_RG, type Pipeline } from './harness';
import { expectEncrypted } from './checks';

const PLATFORM: PlatformOptions = { plan: 'flex-consumption', resourceGroup: 'rg-ade-app', siteName: 'func-ade-flex' };
let p: Pipeline;

beforeAll(async () => {
  // Fallback polling far beyond the test's patience: only the event can finish the run in time.
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    platform: PLATFORM,
    settings: { ADE_FALLBACK_POLL_SECONDS: '1500', ADE_SECRET_EVENT_TIMEOUT_MINUTES: '30' },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

describe('on Flex Consumption', () => {
  it('the app sees the Flex platform variables, which do not name its resource group', () => {
    expect(process.env.WEBSITE_SITE_NAME).toBe('func-ade-flex');
    expect(process.env.WEBSITE_SKU).toBe('FlexConsumption');
    expect(process.env.WEBSITE_RESOURCE_GROUP).toBeUndefined();
    expect(process.env.WEBSITE_OWNER_NAME).toMatch(/^[0-9a-f-]{36}\+flex-[0-9a-f]{64}-webspace$/);
    expect(process.env.ADE_SECRET_EVENTS_WEBHOOK_URL).toBeUndefined();
  });

  it('wires the vault to its own secretEvents function and is woken by the Key Vault event', async () => {
    const vmId = await p.createVm('flex-linux', { os: 'Linux' });
    const status = await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false }, 120_000);
    expect(status.output.completedBy).toBe('event');
    const vaultName = status.output.vaultName as string;
    const topics = [];
    for await (const t of p.eventGrid.systemTopics.listByResourceGroup(VAULT_RG)) topics.push(t);
    const topic = topics.find((t) => t.source?.toLowerCase().endsWith(`/vaults/${vaultName}`));
    const sub = await p.eventGrid.systemTopicEventSubscriptions.get(VAULT_RG, topic!.name!, secretEventSubscriptionName(vaultName));
    expect(sub.destination).toMatchObject({
      endpointType: 'AzureFunction',
      resourceId: `${platformSiteResourceId(PLATFORM)}/functions/secretEvents`,
    });
    const entity = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${vaultName}?code=pipeline-durable-key`);
    expect(await entity.json()).toMatchObject({ secretEvents: true });
  }, 150_000);
});
