// An empty routePrefix and a catch-all app route: literal routes win, and the host's own paths (root page,
// admin, webhooks, the durable client's rpc path) are never shadowed by the app.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../../local/host/index';

let host: Host;
beforeAll(async () => {
  host = await startHost({ appDir: path.resolve(__dirname, '../../apps/runtime-noprefix'), port: 0, keys: false });
});
afterAll(async () => {
  await host?.stop();
});

describe('empty routePrefix', () => {
  it.each([
    ['/home', 'home'],
    ['/HOME', 'home'],
    ['/a/b', { caughtBy: 'everything', path: 'a/b' }],
    ['/api/x', { caughtBy: 'everything', path: 'api/x' }],
  ])('GET %s', async (url, expected) => {
    const res = await host.fetch(url);
    expect(res.status).toBe(200);
    if (typeof expected === 'string') expect(await res.text()).toBe(expected);
    else expect(await res.json()).toEqual(expected);
  });

  it('keeps the host routes and the durable rpc path out of the app catch-all', async () => {
    expect(await (await host.fetch('/')).text()).toContain('up and running');
    expect((await host.fetch('/admin/host/status')).status).toBe(200);
    expect((await host.fetch('/runtime/webhooks/eventgrid?functionName=home', { method: 'POST' })).status).toBe(404);
    const rpc = JSON.parse(host.durable.clientInputValue()).rpcBaseUrl as string;
    const unknown = await fetch(`${rpc.replace(/\/$/, '')}/instances/nope`);
    expect(unknown.status).toBe(404);
    const id = await host.client.startNew('noop');
    expect((await host.client.waitForCompletion(id)).output).toBe('done');
    const viaRpc = await fetch(`${rpc.replace(/\/$/, '')}/instances/${id}`);
    expect(viaRpc.status).toBe(200);
    expect(await viaRpc.json()).toMatchObject({ instanceId: id, runtimeStatus: 'Completed' });
  });

  it('answers HEAD only where a route accepts it', async () => {
    expect((await host.fetch('/', { method: 'HEAD' })).status).toBe(200);
    expect((await host.fetch('/home', { method: 'HEAD' })).status).toBe(404);
  });
});
