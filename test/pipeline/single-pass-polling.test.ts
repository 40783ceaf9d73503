/**
 * single-pass without a KEK, with Key Vault events that never reach the app (the vault's event
 * subscription delivers to a sink that answers Event Grid's validation handshake and drops every
 * event): runs complete by fallback polling alone; and a `SecretStored` raised before the
 * orchestration waits (while it is still inspecting / preparing the vault) is buffered, not lost,
 * and wakes it up long before the next poll. (Without any destination at all a run fails instead:
 * no-event-destination.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { EVENTS_RG, startPipeline, type Pipeline } from './harness';
import { appRequests, armWrites, expectEncrypted } from './checks';

let p: Pipeline;
let sink: Server;
let dropped = 0;
// Real time: after a secret event the run re-checks every min(poll, 30 s) until the disks report encrypted, so a
// poll interval above 30 s tells an event wake-up (≈ 30 s) from the first poll (≥ 40 s).
const POLL_SECONDS = 40;

beforeAll(async () => {
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (String(req.headers['aeg-event-type']).toLowerCase() === 'subscriptionvalidation') {
        const code = (JSON.parse(body) as Array<{ data: { validationCode: string } }>)[0]!.data.validationCode;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse: code }));
        return;
      }
      dropped += 1;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const port = (sink.address() as { port: number }).port;
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: {
      ADE_SECRET_EVENTS_WEBHOOK_URL: `http://127.0.0.1:${port}/drop`,
      ADE_LOCAL_POLL_SECONDS: String(POLL_SECONDS),
      ADE_SECRET_EVENT_TIMEOUT_MINUTES: '60',
    },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
  await new Promise((resolve) => sink?.close(resolve));
});

describe('single-pass without KEK, Key Vault events lost', () => {
  it('encrypts new Windows and Linux VMs by polling alone', async () => {
    const runs = await Promise.all(
      (['Windows', 'Linux'] as const).map(async (os) => ({ os, vmId: await p.createVm(`sppoll-${os.toLowerCase()}`, { os }) })),
    );
    const statuses = await Promise.all(runs.map((r) => expectEncrypted(p, { vmId: r.vmId, os: r.os, mode: 'single-pass', kek: false })));
    expect(statuses.map((s) => s.output.completedBy)).toEqual(['polling', 'polling']);
  }, 120_000);

  it('wired the vault once (events went to the sink), created no KEK, and wrote ARM about once per VM', async () => {
    expect(dropped).toBeGreaterThanOrEqual(2);
    const requests = await appRequests(p);
    const writes = armWrites(requests);
    expect(writes.filter((w) => /eventSubscriptions\/[^/]+$/i.test(w.path))).toHaveLength(1);
    expect(writes.filter((w) => /systemTopics\/[^/]+$/i.test(w.path))).toHaveLength(1);
    expect(requests.filter((r) => r.service === 'keyvault' && /\/keys\//i.test(r.path))).toEqual([]);
    const extensionWrites = writes.filter((w) => /\/extensions\//i.test(w.path));
    expect(extensionWrites).toHaveLength(2);
    expect(writes.length).toBe(5); // one vault, its system topic and event subscription, one extension PUT per VM
  });

  it('a SecretStored event raised before the orchestration waits is buffered and wakes it', async () => {
    // Start it through the HTTP starter (no VM-write delivery for this VM) and raise right away,
    // while the run is still inspecting the VM / reading the vault entity.
    await p.eventGrid.systemTopicEventSubscriptions.beginDeleteAndWait(EVENTS_RG, 'subscription-events', 'vm-written', {
      updateIntervalInMs: 50,
    });
    const vmId = await p.createVm('sppoll-early', { os: 'Windows' });
    const instanceId = orchestrationInstanceId(vmId);
    const started = await p.host.fetch(`/api/vms/encrypt?code=${p.host.keys!.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId }),
    });
    expect(started.status).toBe(202);
    const status = await p.getInstance(instanceId);
    expect(status?.customStatus?.phase ?? 'not-yet').not.toBe('waiting-for-secret');
    const startedAt = Date.now();
    const raise = await p.host.fetch(
      `/runtime/webhooks/durabletask/instances/${instanceId}/raiseEvent/SecretStored?code=${p.host.keys!.durable}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          secretUrl: 'https://example.vault.azure.net/secrets/s/00000000000000000000000000000000',
          vaultName: 'example',
        }),
      },
    );
    expect(raise.status).toBe(202);
    const done = await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: false });
    expect(done.output.completedBy).toBe('event');
    // Woken by the buffered event, not by the first poll 40 s later.
    expect(Date.now() - startedAt).toBeLessThan(POLL_SECONDS * 1000);
  }, 120_000);
});
