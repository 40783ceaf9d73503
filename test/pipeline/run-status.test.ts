/**
 * No system key ever leaves the app: every HTTP starter answers with the instance id and an app-level
 * `GET /api/runs/{id}` URL, never a Durable management URL (which in Azure carries the
 * durabletask_extension system key). Run through the local host with keys on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEP_INSTANCE_ID, orchestrationInstanceId, remediationInstanceId } from '../../core/names';
import { eventually, HUB_KEYS, startPipeline, type Pipeline } from './harness';
import { monitorAlert } from '../fixtures/signals';

let p: Pipeline;
let vmId = '';
/** Every response the app gave in this file, as text: status line, headers and body. */
const seen: { what: string; text: string }[] = [];

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, armEvents: false });
  vmId = await p.createVm('vm-runs', { os: 'Linux' });
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

async function call(method: string, path: string, body?: unknown, key = HUB_KEYS.function) {
  const sep = path.includes('?') ? '&' : '?';
  const res = await p.host.fetch(key ? `${path}${sep}code=${key}` : path, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const headers = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  seen.push({ what: `${method} ${path}`, text: `${res.status}\n${headers}\n\n${text}` });
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, location: res.headers.get('location'), body: json };
}

function alertFor(target: string) {
  return monitorAlert(p.subscriptionId, [target.toLowerCase()]);
}

describe('HTTP starters answer with an app-level run URL', () => {
  it.each<[string, string, () => unknown, () => string]>([
    ['POST /api/vms/encrypt', '/api/vms/encrypt', () => ({ vmId }), () => orchestrationInstanceId(vmId)],
    ['POST /api/vms/heal', '/api/vms/heal', () => ({ vmId }), () => remediationInstanceId(vmId)],
    ['POST /api/sweep?dryRun=true', '/api/sweep?dryRun=true', () => undefined, () => SWEEP_INSTANCE_ID.backfill],
  ])('%s → 202 with instanceId, statusUri and Location under /api/runs', async (_name, path, body, expectedId) => {
    const res = await call('POST', path, body() ?? '');
    expect(res.status).toBe(202);
    expect(res.body.instanceId).toBe(expectedId());
    expect(res.body.statusUri).toBe(`${p.host.baseUrl}/api/runs/${expectedId()}`);
    expect(res.location).toBe(res.body.statusUri);
    for (const field of ['statusQueryGetUri', 'sendEventPostUri', 'terminatePostUri', 'purgeHistoryDeleteUri', 'id'])
      expect(res.body).not.toHaveProperty(field);
  });

  it('POST /api/alerts → 202 listing remediations; each links nothing but its instance id', async () => {
    const res = await call('POST', '/api/alerts', alertFor(vmId));
    expect(res.status).toBe(202);
    expect(res.body.remediations).toEqual([expect.objectContaining({ vmId: vmId.toLowerCase(), instanceId: remediationInstanceId(vmId) })]);
  });

  it('GET /api/runs/{id} → runtime status, custom status and output of our run, until it finishes', async () => {
    const done = await eventually(
      'the dry-run sweep to finish',
      async () => {
        const res = await call('GET', `/api/runs/${SWEEP_INSTANCE_ID.backfill}`);
        expect(res.status).toBe(200);
        return res.body.runtimeStatus === 'Completed' ? res.body : undefined;
      },
      60_000,
    );
    expect(done).toMatchObject({ instanceId: SWEEP_INSTANCE_ID.backfill, name: 'sweep', runtimeStatus: 'Completed' });
    expect(done.output).toMatchObject({ dryRun: true });
    expect(done).not.toHaveProperty('input');
    const encrypt = await call('GET', `/api/runs/${orchestrationInstanceId(vmId)}`);
    expect(encrypt.status).toBe(200);
    expect(encrypt.body).toMatchObject({ name: 'encryptVm', instanceId: orchestrationInstanceId(vmId) });
  }, 90_000);

  it.each([
    ['an entity id', '@vault@x', 400],
    ['an encoded path', '..%2F..%2Fadmin', 400],
    ['a foreign id', 'someone-elses-run', 400],
    ['an id of ours that never ran', 'encrypt-00000000-rg-vm-000000000000', 404],
  ])('%s: GET /api/runs/%s → %i, nothing revealed', async (_what, id, status) => {
    const res = await call('GET', `/api/runs/${id}`);
    expect(res.status).toBe(status);
    expect(Object.keys(res.body)).toEqual(['error']);
  });

  it('GET /api/runs/{id} needs the function key', async () => {
    expect((await call('GET', `/api/runs/${SWEEP_INSTANCE_ID.backfill}`, undefined, '')).status).toBe(401);
  });

  it('the status API finds the VM by instance-id prefix on the host: its row, its detail with several runs, the summary', async () => {
    const [, , sub, , rg, , , , name] = vmId.split('/');
    const detail = await eventually(
      'the VM to show its encryption and remediation runs',
      async () => {
        const res = await call('GET', `/api/vms/${sub}/${rg}/${name}`);
        const runs = (res.body?.runs ?? []) as Array<{ orchestration: string; inFlight: boolean }>;
        return res.status === 200 && runs.length >= 2 && runs.every((r) => !r.inFlight) ? res.body : undefined;
      },
      60_000,
    );
    expect(detail.vmId.toLowerCase()).toBe(vmId.toLowerCase());
    expect(detail.runs.map((r: { orchestration: string }) => r.orchestration).sort()).toEqual(
      expect.arrayContaining(['encryptVm', 'remediateVm']),
    );
    const list = await call('GET', `/api/vms?resourceGroup=${rg}&os=Linux`);
    expect(list.status).toBe(200);
    expect(list.body.vms.map((v: { name: string }) => v.name)).toEqual([name]);
    expect(list.body.counts.total).toBe(1);
    const summary = await call('GET', '/api/summary');
    expect(summary.status).toBe(200);
    expect(summary.body.counts.total).toBe(1);
    expect((await call('GET', '/api/vms', undefined, '')).status).toBe(401);
    expect((await call('GET', `/api/vms/${sub}/${rg}/no-such-vm`)).status).toBe(404);
  }, 90_000);

  it('bad input and conflicts answer without Durable URLs either', async () => {
    expect((await call('POST', '/api/vms/heal', { vmId: 'nope' })).status).toBe(400);
    expect((await call('POST', '/api/vms/encrypt', '{')).status).toBe(400);
    expect((await call('POST', '/api/alerts', { schemaId: 'x' })).status).toBe(400);
  });

  it('no response body or header contains a system key, the master key or a Durable webhook path', () => {
    expect(seen.length).toBeGreaterThanOrEqual(12);
    const forbidden = [HUB_KEYS.master, HUB_KEYS.durable, HUB_KEYS.eventGrid, HUB_KEYS.function, '/runtime/webhooks/durabletask'];
    const hits = seen.flatMap((s) => forbidden.filter((f) => s.text.includes(f)).map((f) => `${s.what}: ${f}`));
    expect(hits).toEqual([]);
  });
});
