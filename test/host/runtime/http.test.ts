// Conformance of the host's front door against the runtime-basic app: HTTP triggers, keys, Event Grid webhook,
// admin endpoints, bad input. In-process host (one app per test file/process).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../../local/host/index';

const appDir = path.resolve(__dirname, '../../apps/runtime-basic');
const keys = {
  master: 'master-key-for-tests',
  function: 'function-key-for-tests',
  eventGrid: 'eventgrid-key-for-tests',
  durable: 'durable-key-for-tests',
};
let host: Host;
const seen = () => (globalThis as any).__runtimeBasic;

beforeAll(async () => {
  host = await startHost({ appDir, port: 0, keys, maxBodyBytes: 64 * 1024 });
});
afterAll(async () => {
  await host?.stop();
});

async function waitFor(predicate: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HTTP triggers', () => {
  it('serves the root page and runs appStart hooks once', async () => {
    const res = await host.fetch('/');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Functions 4.0 app is up and running');
    expect(seen().appStart).toBe(1);
  });

  it('passes method, route params, query, headers and a text body', async () => {
    const res = await host.fetch('/api/echo/12?a=1&b=two', {
      method: 'POST',
      headers: { 'x-custom': 'yes', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body: any = await res.json();
    expect(body).toMatchObject({
      method: 'POST',
      params: { id: '12' },
      query: { a: '1', b: 'two' },
      body: 'hello body',
      headers: { 'x-custom': 'yes', 'content-type': 'text/plain' },
    });
    expect(body.url).toBe(`${host.baseUrl}/api/echo/12?a=1&b=two`);
  });

  it.each([
    ['GET', '/api/echo', 200],
    ['DELETE', '/api/echo/3', 200],
    ['GET', '/api/echo/notanint', 404],
    ['GET', '/api/created', 404], // route exists for POST only
    ['POST', '/api/unknown', 404],
    ['GET', '/nope', 404],
    ['GET', '/api/nothing', 204],
    ['GET', '/api/throws', 500],
  ])('%s %s → %i', async (method, url, status) => {
    const res = await host.fetch(url, { method });
    expect(res.status).toBe(status);
    if (status === 500) expect(await res.text()).toBe('');
  });

  it('enforces authLevel function with the function or master key, in header or code query', async () => {
    const post = (url: string, headers: Record<string, string> = {}) =>
      host.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ id: 7 }) });
    expect((await post('/api/created')).status).toBe(401);
    expect((await post('/api/created?code=wrong')).status).toBe(401);
    expect((await post('/api/created', { 'x-functions-key': keys.eventGrid })).status).toBe(401);
    const byHeader = await post('/api/created', { 'x-functions-key': keys.function });
    expect(byHeader.status).toBe(201);
    expect(byHeader.headers.get('x-created-id')).toBe('7');
    expect(byHeader.headers.get('location')).toBe('/api/items/7');
    expect(byHeader.headers.getSetCookie()).toEqual(['session=abc; path=/; httponly']);
    expect(await byHeader.json()).toEqual({ created: { id: 7 } });
    expect((await post(`/api/created?code=${keys.master}`)).status).toBe(201);
  });

  it('enforces authLevel admin (master key only) and round-trips binary bodies on a catch-all route', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    const send = (code: string) =>
      host.fetch(`/api/files/a/b/c.bin?code=${code}`, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': 'application/octet-stream' },
      });
    expect((await send(keys.function)).status).toBe(401);
    const res = await send(keys.master);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-path')).toBe('a/b/c.bin');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([254, 255, 2, 1, 0]));
  });

  it('answers a malformed JSON body with the function failure (500), and an oversized body with 413', async () => {
    const bad = await host.fetch(`/api/created?code=${keys.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(bad.status).toBe(500);
    const big = await host.fetch('/api/echo', { method: 'POST', body: 'x'.repeat(65 * 1024) });
    expect(big.status).toBe(413);
    expect((await host.fetch('/api/echo')).status).toBe(200); // still serving
  });

  it('keeps concurrent requests apart', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    const bodies = await Promise.all(
      ids.map(async (id) => (await host.fetch(`/api/echo/${id}?n=${id}`, { method: 'PUT', body: `b${id}` })).json() as Promise<any>),
    );
    expect(bodies.map((b) => [b.params.id, b.query.n, b.body])).toEqual(ids.map((id) => [String(id), String(id), `b${id}`]));
  });

  it('logs invocations and user logs as structured records without the secret the log hook redacts', () => {
    const user = host.logs.filter((r) => r.category === 'Function.echo.User');
    expect(user.length).toBeGreaterThan(0);
    expect(user.every((r) => !r.message.includes('abc123'))).toBe(true);
    expect(host.logs.some((r) => r.level === 'error' && r.functionName === 'throws' && r.error === 'handler exploded')).toBe(true);
  });
});

describe('Event Grid webhook', () => {
  const url = (fn: string, code: string | undefined = keys.eventGrid) =>
    `/runtime/webhooks/eventgrid?functionName=${fn}${code ? `&code=${code}` : ''}`;
  const post = (fn: string, body: unknown, eventType?: string, code?: string) =>
    host.fetch(url(fn, code), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(eventType ? { 'aeg-event-type': eventType } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const event = (id: string, subject = 'ok') => ({
    id,
    subject,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    eventTime: '2026-01-01T00:00:00Z',
    data: { operationName: 'x' },
    dataVersion: '',
    metadataVersion: '1',
    topic: '/subscriptions/s',
  });

  it('requires the Event Grid system key (or master key)', async () => {
    expect(
      (await host.fetch(url('onEvent', ''), { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: '[]' })).status,
    ).toBe(401);
    expect((await post('onEvent', [], 'Notification', keys.function)).status).toBe(401);
    expect((await post('onEvent', [], 'Notification', keys.master)).status).toBe(202);
  });

  it('answers 404 for an unknown, missing or non-Event Grid function', async () => {
    const unknown = await post('nope', [], 'Notification');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("cannot find function: 'nope'");
    expect(
      (
        await host.fetch(`/runtime/webhooks/eventgrid?code=${keys.eventGrid}`, {
          method: 'POST',
          headers: { 'aeg-event-type': 'Notification' },
          body: '[]',
        })
      ).status,
    ).toBe(404);
    expect((await post('echo', [], 'Notification')).status).toBe(404);
  });

  it('completes the validation handshake for both schemas', async () => {
    const eg = await post(
      'onEvent',
      [
        {
          id: 'v',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          data: { validationCode: 'CODE-1', validationUrl: 'https://x' },
        },
      ],
      'SubscriptionValidation',
    );
    expect(eg.status).toBe(200);
    expect(await eg.json()).toEqual({ validationResponse: 'CODE-1' });
    const ce = await post(
      'onEvent',
      {
        specversion: '1.0',
        type: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        id: 'v',
        source: 's',
        data: JSON.stringify({ validationCode: 'CODE-2' }),
      },
      'subscriptionvalidation',
    );
    expect(ce.status).toBe(200);
    expect(await ce.json()).toEqual({ validationResponse: 'CODE-2' });
    expect((await post('onEvent', [{ id: 'v', data: {} }], 'SubscriptionValidation')).status).toBe(400);
  });

  it('answers the CloudEvents OPTIONS handshake', async () => {
    const known = await host.fetch(url('onEvent'), { method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventgrid.azure.net' } });
    expect(known.status).toBe(200);
    expect(known.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
    const other = await host.fetch(url('onEvent'), { method: 'OPTIONS', headers: { 'webhook-request-origin': 'evil.example.com' } });
    expect(other.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('dispatches a batch as one invocation per event (202) and a single CloudEvent object', async () => {
    const before = seen().events.length;
    expect((await post('onEvent', [event('b1'), event('b2'), event('b3')], 'Notification')).status).toBe(202);
    const ce = {
      specversion: '1.0',
      type: 'Microsoft.Resources.ResourceWriteSuccess',
      source: '/subscriptions/s',
      id: 'c1',
      subject: 'ok',
      time: '2026-01-01T00:00:00Z',
      data: { operationName: 'y' },
    };
    expect((await post('onEvent', ce, 'Notification')).status).toBe(202);
    const ids = seen()
      .events.slice(before)
      .map((e: any) => e.id)
      .sort();
    expect(ids).toEqual(['b1', 'b2', 'b3', 'c1']);
    expect(seen().events.find((e: any) => e.id === 'c1').meta).toEqual({ data: { operationName: 'y' } });
  });

  it('answers 500 with the failure message when one event of a batch fails', async () => {
    const res = await post('onEvent', [event('f1'), event('f2', 'fail')], 'Notification');
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('event f2 failed');
  });

  it.each([
    ['Unsubscribe', '[]', 202],
    [undefined, '[]', 400],
    ['SubscriptionDeletion', '[]', 400],
    ['Notification', '{broken', 400],
    ['Notification', '[1,2]', 400],
  ])('aeg-event-type %s with body %s → %i', async (eventType, body, status) => {
    expect((await post('onEvent', body, eventType)).status).toBe(status);
  });
});

describe('admin endpoints', () => {
  const admin = (p: string, init: RequestInit = {}, code: string | undefined = keys.master) =>
    host.fetch(`/admin/${p}`, {
      ...init,
      headers: {
        ...(code ? { 'x-functions-key': code } : {}),
        // As Microsoft documents the call (https://learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http).
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...((init.headers as Record<string, string>) ?? {}),
      },
    });

  it('fires a non-HTTP function by hand with {"input": ...} → 202', async () => {
    const before = seen().events.length;
    const res = await admin('functions/onEvent', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: JSON.stringify(event('adm1')) }),
    });
    expect(res.status).toBe(202);
    await waitFor(() => seen().events.length > before);
    expect(seen().events.at(-1).id).toBe('adm1');
    const timerRuns = seen().timer.length;
    expect((await admin('functions/tick', { method: 'POST', body: '{}' })).status).toBe(202);
    await waitFor(() => seen().timer.length > timerRuns);
    expect(seen().timer.at(-1).timer).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
  });

  it.each([
    ['functions/onEvent', 'POST', '{}', '', 401],
    ['functions/onEvent', 'POST', '{}', keys.function, 401],
    ['functions/missing', 'POST', '{}', keys.master, 404],
    ['functions/echo', 'POST', '{}', keys.master, 400],
    ['functions/onEvent', 'POST', '{oops', keys.master, 400],
    ['functions/onEvent', 'POST', '[1]', keys.master, 400],
    ['functions/onEvent', 'PUT', '{}', keys.master, 405],
    ['unknown', 'GET', undefined, keys.master, 404],
    ['functions/%E0%A4', 'POST', '{}', keys.master, 404],
  ])('%s %s %s (key %s) → %i', async (p, method, body, code, status) => {
    expect((await admin(p, { method, body }, code)).status).toBe(status);
  });

  it('lists functions and reports host status', async () => {
    const list: any = await (await admin('functions')).json();
    expect(list.map((f: any) => f.name)).toContain('onEvent');
    expect(list.find((f: any) => f.name === 'echo').invoke_url_template).toBe(`${host.baseUrl}/api/echo/{id:int?}`);
    const one = await admin('functions/tick');
    expect(((await one.json()) as any).config.bindings[0]).toMatchObject({ type: 'timerTrigger', schedule: '%TICK_SCHEDULE%' });
    expect(await (await admin('host/status')).json()).toMatchObject({ state: 'Running' });
  });

  it('guards the Durable webhook with the durabletask system key', async () => {
    expect((await host.fetch('/runtime/webhooks/durabletask/instances/x')).status).toBe(401);
    expect((await host.fetch(`/runtime/webhooks/durabletask/instances/x?code=${keys.function}`)).status).toBe(401);
    expect((await host.fetch(`/runtime/webhooks/durabletask/instances/x?code=${keys.durable}`)).status).toBe(404);
  });
});

function event(id: string) {
  return { id, subject: 'ok', eventType: 't', eventTime: '2026-01-01T00:00:00Z', data: {}, dataVersion: '1' };
}
