// A web page must not drive the host's built-in routes: the Durable rpc path needs its key, and the Durable
// webhooks and /admin refuse foreign origins and non-JSON bodies (the "simple requests" a browser sends
// cross-origin without a preflight). The app's own durable client still works.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../../local/host/index';

const appDir = path.resolve(__dirname, '../../apps/runtime-durable');
const EVIL = 'https://evil.example';
const PLAIN = 'text/plain;charset=UTF-8';

const rpcBase = (host: Host) => JSON.parse(host.durable.clientInputValue()).rpcBaseUrl as string;
const instanceCount = async (host: Host) => {
  const code = host.keys ? `&code=${host.keys.durable}` : '';
  const res = await host.fetch(`/runtime/webhooks/durabletask/instances/?top=1000${code}`);
  return ((await res.json()) as unknown[]).length;
};

type Attack = [what: string, status: number, url: (host: Host, id: string) => string, headers: Record<string, string>, body: string];

const attacks: Attack[] = [
  [
    'rpc terminate without the rpc key',
    401,
    (h, id) => `${h.baseUrl}/durabletask/instances/${id}/terminate`,
    { 'content-type': 'application/json' },
    '',
  ],
  [
    'rpc terminate with the rpc key, cross-origin',
    403,
    (h, id) => `${rpcBase(h)}instances/${id}/terminate`,
    { origin: EVIL, 'content-type': PLAIN },
    '',
  ],
  [
    'rpc start with the rpc key, text/plain',
    415,
    (h) => `${rpcBase(h)}orchestrators/sayHellos`,
    { 'content-type': PLAIN },
    '{"first":"x"}',
  ],
  [
    'webhook terminate with the system key, cross-origin',
    403,
    (h, id) => `${webhook(h, `instances/${id}/terminate`)}`,
    { origin: EVIL, 'content-type': PLAIN },
    '',
  ],
  [
    'webhook start with the system key, text/plain',
    415,
    (h) => webhook(h, 'orchestrators/sayHellos'),
    { 'content-type': PLAIN },
    '{"first":"x"}',
  ],
  [
    'webhook raiseEvent, cross-origin JSON',
    403,
    (h, id) => webhook(h, `instances/${id}/raiseEvent/approve`),
    { origin: EVIL, 'content-type': 'application/json' },
    '1',
  ],
  [
    'webhook start, form post',
    403,
    (h) => webhook(h, 'orchestrators/sayHellos'),
    { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' },
    'a=1',
  ],
  [
    'admin invoke with the master key, cross-origin',
    403,
    (h) => `${h.baseUrl}/admin/functions/sayHello${h.keys ? `?code=${h.keys.master}` : ''}`,
    { origin: EVIL, 'content-type': PLAIN },
    '{}',
  ],
];

function webhook(host: Host, p: string): string {
  return `${host.baseUrl}/runtime/webhooks/durabletask/${p}${host.keys ? `${p.includes('?') ? '&' : '?'}code=${host.keys.durable}` : ''}`;
}

/** The suite for one host (one app per process: keys on and off run as two test files). */
export function browserGuardSuite(keys: boolean): void {
  let current: Host;
  const hostOf = () => current;
  beforeAll(async () => {
    current = await startHost({ appDir, port: 0, ...(keys ? {} : { keys: false }) });
  });
  afterAll(async () => {
    await current?.stop();
  });
  describe(`built-in routes with keys ${keys ? 'on' : 'off'}`, () => {
    it.each(attacks)('%s → %i, nothing changes', async (_what, status, url, headers, body) => {
      const host = hostOf();
      const id = await host.client.startNew('waitForApproval');
      const before = await instanceCount(host);
      const res = await fetch(url(host, id), { method: 'POST', headers, body });
      // Without keys there is no key to be missing: the origin / content-type guard must refuse on its own.
      if (status === 401 && !host.keys) expect([401, 403]).toContain(res.status);
      else expect(res.status).toBe(status);
      expect((await host.client.getStatus(id))?.runtimeStatus).toBe('Running');
      expect(await instanceCount(host)).toBe(before);
      await host.client.terminate(id, 'test cleanup');
    });

    it('the app’s own durable client (durable-functions, axios) still starts, reads and terminates', async () => {
      const host = hostOf();
      const run = await host.fetch('/api/orchestrators/sayHellos', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ first: 'Oslo' }),
      });
      expect(run.status).toBe(200);
      expect(await run.json()).toEqual(['Hello Oslo!', 'Hello Seattle!']);
      const id = await host.client.startNew('waitForApproval');
      const stopped = await host.fetch(`/api/runs/${id}/terminate`, { method: 'POST' });
      expect(stopped.status).toBe(200);
      expect(await stopped.json()).toMatchObject({ instanceId: id, runtimeStatus: 'Terminated' });
    });

    it('a same-origin JSON request with the key is served', async () => {
      const host = hostOf();
      const res = await fetch(webhook(host, 'orchestrators/sayHellos'), {
        method: 'POST',
        headers: { origin: host.baseUrl, 'content-type': 'application/json' },
        body: JSON.stringify({ first: 'Rome' }),
      });
      expect(res.status).toBe(202);
    });
  });
}
