// startHost wires the durable engine: the DurableClient binding, the keyed Durable webhook, and the
// programmatic client helpers.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../../local/host/index';

const appDir = path.resolve(__dirname, '../../apps/runtime-durable');
let host: Host;

beforeAll(async () => {
  host = await startHost({ appDir, port: 0 });
});
afterAll(async () => {
  await host?.stop();
});

describe('durable engine behind startHost', () => {
  it('runs an orchestration started with the client helper', async () => {
    const id = await host.client.startNew('sayHellos', { input: { first: 'Oslo' }, instanceId: 'helper-1' });
    expect(id).toBe('helper-1');
    const status = await host.client.waitForCompletion(id, { showHistory: true });
    expect(status).toMatchObject({
      name: 'sayHellos',
      instanceId: 'helper-1',
      runtimeStatus: 'Completed',
      output: ['Hello Oslo!', 'Hello Seattle!'],
    });
    expect(Array.isArray(status.historyEvents)).toBe(true);
  });

  it('runs an orchestration started by an HTTP function through the DurableClient binding', async () => {
    const res = await host.fetch('/api/orchestrators/sayHellos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ first: 'Rome' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(['Hello Rome!', 'Hello Seattle!']);
  });

  it('reports a failing orchestrator as Failed, and unknown instances as undefined', async () => {
    const id = await host.client.startNew('boom');
    const status = await host.client.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(JSON.stringify(status.output)).toContain('orchestrator exploded');
    expect(await host.client.getStatus('no-such-instance')).toBeUndefined();
  });

  it('requires the durabletask system key on the webhook but gives it to the client binding', async () => {
    expect((await host.fetch('/runtime/webhooks/durabletask/instances/helper-1')).status).toBe(401);
    expect((await host.fetch(`/runtime/webhooks/durabletask/instances/helper-1?code=${host.keys!.durable}`)).status).toBe(200);
    const binding = JSON.parse(host.durable.clientInputValue());
    expect(binding.managementUrls.statusQueryGetUri).toContain(`code=${host.keys!.durable}`);
  });
});
