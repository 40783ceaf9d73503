/**
 * Outcome events for every encryptVm run, on the host + simulator with a custom Event Grid topic
 * configured (ADE_OUTCOME_TOPIC_ENDPOINT): exactly one AdeAutopilot.VmEncrypted per encrypted VM and
 * one AdeAutopilot.EncryptionFailed per failed run go to the outcome-publishing activity — whether
 * vmWritten started the run or remediateVm ran it as a sub-orchestration (no second event from
 * remediateVm) — and skips publish nothing.
 *
 * What is counted is the publishing activity's own record of each event it sends ("outcome <type>
 * for <subject>"), not deliveries to a subscriber: the simulator's Event Grid data plane does not yet
 * authenticate Entra bearer tokens (its data service has requiresAuth false, so the app's
 * EventGridPublisherClient is answered 401), so nothing reaches a subscriber today.
 */
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { remediationInstanceId } from '../../core/remediation/ids';
import { EVENTS_RG, eventually, HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { expectEncrypted } from './checks';

const TOPIC = 'ade-outcomes';
const TOPIC_ENDPOINT = `https://${TOPIC}.westeurope-1.eventgrid.azure.net/api/events`;

let p: Pipeline;

/** The events the publishing activity sent for a VM, in order: "<eventType> from <orchestration>". */
function publishedFor(vmId: string): string[] {
  return p.host.logs
    .filter((l) => String(l.category).startsWith('Function.remediationPublishOutcome') && String(l.message).startsWith('outcome ') && String(l.message).toLowerCase().includes(`for ${vmId.toLowerCase()}:`))
    .map((l) => String(l.message).split(' ')[1]!);
}

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: { ADE_OUTCOME_TOPIC_ENDPOINT: TOPIC_ENDPOINT, ADE_SECRET_EVENT_TIMEOUT_MINUTES: '5', ADE_FALLBACK_POLL_SECONDS: '60', ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60' },
  });
  const topic = await p.eventGrid.topics.beginCreateOrUpdateAndWait(EVENTS_RG, TOPIC, { location: 'westeurope' }, { updateIntervalInMs: 50 });
  expect(topic.endpoint).toBe(TOPIC_ENDPOINT);
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

/** Gives a duplicate publish (a second activity run right behind the first) time to show up. */
const settle = (ms = 750) => new Promise((r) => setTimeout(r, ms));

describe('outcome events of encryptVm (custom topic configured)', () => {
  let vaultName = '';
  let firstVmId = '';

  it('a VM encrypted through vmWritten → exactly one AdeAutopilot.VmEncrypted, sent by encryptVm', async () => {
    const vmId = (firstVmId = await p.createVm('outcome-ok', { os: 'Windows' }));
    const status = await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: false });
    vaultName = status.output.vaultName;
    expect(status.input).toMatchObject({ publishOutcome: true });
    expect(status.output.outcomeEvent).toMatchObject({ eventType: 'AdeAutopilot.VmEncrypted' });
    await settle();
    expect(publishedFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
    const line = p.host.logs.find((l) => String(l.message).startsWith(`outcome AdeAutopilot.VmEncrypted for ${vmId}`));
    expect(String(line?.message)).toMatch(/encrypted and verified \(single-pass, vault adeap-[a-z0-9-]+, secret seen by (event|polling)\)/);
  }, 120_000);

  it('a failed run → exactly one AdeAutopilot.EncryptionFailed carrying the reason', async () => {
    const kv = new KeyVaultManagementClient(new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret), p.subscriptionId);
    await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: false } });
    try {
      const vmId = await p.createVm('outcome-fail', { os: 'Linux' });
      const instanceId = orchestrationInstanceId(vmId);
      await eventually('the run to start', () => p.getInstance(instanceId));
      const status = await p.waitForInstance(instanceId, 90_000);
      expect(status.output).toMatchObject({ vmId, outcome: 'failed', outcomeEvent: { eventType: 'AdeAutopilot.EncryptionFailed' } });
      await settle();
      expect(publishedFor(vmId)).toEqual(['AdeAutopilot.EncryptionFailed']);
      expect(p.host.logs.some((l) => String(l.message).startsWith(`outcome AdeAutopilot.EncryptionFailed for ${vmId}: ${status.output.reason}`))).toBe(true);
    } finally {
      await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: true } });
    }
  }, 120_000);

  it('skips and already-encrypted runs publish nothing', async () => {
    const res = await p.host.fetch(`/api/vms/encrypt?code=${HUB_KEYS.function}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vmId: firstVmId }) });
    expect(res.status).toBe(202);
    const status = await eventually('the re-run to finish', async () => {
      const s = await p.getInstance(orchestrationInstanceId(firstVmId));
      return s && s.runtimeStatus === 'Completed' && s.output?.outcome === 'already-encrypted' ? s : undefined;
    }, 60_000);
    expect(status.input).toMatchObject({ publishOutcome: true });
    expect(status.output.outcomeEvent).toBeUndefined();
    await settle();
    expect(publishedFor(firstVmId)).toEqual(['AdeAutopilot.VmEncrypted']); // still only the first run's
  }, 120_000);

  it('remediateVm running encryptVm as its sub-orchestration → one VmEncrypted (from encryptVm), none from remediateVm', async () => {
    // Without the Resource Manager subscription vmWritten stays quiet: only the heal request starts work.
    await p.eventGrid.systemTopicEventSubscriptions.beginDeleteAndWait(EVENTS_RG, 'subscription-events', 'vm-written', { updateIntervalInMs: 50 });
    const vmId = await p.createVm('outcome-heal', { os: 'Linux' });
    const res = await p.host.fetch(`/api/vms/heal?code=${HUB_KEYS.function}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vmId }) });
    expect(res.status).toBe(202);
    const remediation = await p.waitForInstance(remediationInstanceId(vmId), 90_000);
    expect(remediation.output).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    const sub = (await p.listInstances()).find((i) => i.name === 'encryptVm' && i.input?.vmId === vmId);
    expect(sub?.input).toMatchObject({ publishOutcome: true });
    expect(sub?.output).toMatchObject({ outcome: 'encrypted', outcomeEvent: { eventType: 'AdeAutopilot.VmEncrypted' } });
    await settle();
    expect(publishedFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
  }, 120_000);
});
