// The DurableClient binding used unmodified by app code, and the Durable HTTP API's status codes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableHttpApi } from '../../../local/host/durable';
import { startHarness, type Harness } from './harness';

const appDir = path.resolve(__dirname, '../../apps/durable-basic');
let h: Harness;

beforeAll(async () => {
  h = await startHarness(appDir);
});
afterAll(async () => {
  await h?.stop();
});

/** Calls the app's ClientOps Event Grid function, which uses the real DurableClient against the host. */
async function client(data: Record<string, unknown>): Promise<any> {
  const event = { id: 'e1', subject: 'test', eventType: 'Test', eventTime: new Date().toISOString(), dataVersion: '1', data };
  const result = await h.runtime.invoke('ClientOps', { triggerData: { json: JSON.stringify(event) } });
  const rv = result.returnValue!;
  return rv.json !== undefined ? JSON.parse(rv.json) : rv.string;
}

async function waitForStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (h.engine.dispatcher.getInstance(id)?.status === status) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`instance ${id} never reached ${status} (is ${h.engine.dispatcher.getInstance(id)?.status})`);
}

describe('DurableClient binding (app code, unmodified)', () => {
  it('starts with a chosen id, reads status and history, and completes', async () => {
    expect(await client({ op: 'start', name: 'Sequence', instanceId: 'client-seq' })).toEqual({ id: 'client-seq' });
    await h.waitFor('client-seq');
    const s = await client({ op: 'status', id: 'client-seq', showHistory: true });
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(s.history.map((e: any) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'TaskCompleted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    expect(s.history[1]).toMatchObject({ FunctionName: 'Hello', Result: 'Hello Tokyo!' });
  });

  it('refuses to start an id that is running (singleton), and restarts a finished one', async () => {
    await client({ op: 'start', name: 'WaitForever', instanceId: 'singleton' });
    await expect(client({ op: 'start', name: 'WaitForever', instanceId: 'singleton' })).rejects.toThrow();
    const res = await h.api('POST', '/durabletask/orchestrators/WaitForever/singleton', '');
    expect(res.status).toBe(400);
    expect(res.text).toContain('already exists');
    await client({ op: 'terminate', id: 'singleton', reason: 'done testing' });
    await waitForStatus('singleton', 'Terminated');
    expect(await client({ op: 'start', name: 'Sequence', instanceId: 'singleton' })).toEqual({ id: 'singleton' });
    expect((await h.waitFor('singleton')).status).toBe('Completed');
  });

  it('raises an event, terminates with a reason, suspends and resumes', async () => {
    await client({ op: 'start', name: 'Approval', instanceId: 'approve-me', input: { timeoutMs: 10 * 24 * 3600_000 } });
    await client({ op: 'suspend', id: 'approve-me' });
    await waitForStatus('approve-me', 'Suspended');
    await client({ op: 'raise', id: 'approve-me', event: 'Approve', data: 'bob' });
    await new Promise((r) => setTimeout(r, 50));
    expect(h.engine.dispatcher.getInstance('approve-me')?.status).toBe('Suspended'); // events wait while suspended
    await client({ op: 'resume', id: 'approve-me' });
    const done = await h.waitFor('approve-me');
    expect(JSON.parse(done.output!)).toEqual({ approved: true, by: 'bob' });

    await client({ op: 'start', name: 'WaitForever', instanceId: 'to-terminate' });
    await client({ op: 'terminate', id: 'to-terminate', reason: 'operator said so' });
    const t = await h.waitFor('to-terminate');
    expect(t.status).toBe('Terminated');
    const s = await client({ op: 'status', id: 'to-terminate' });
    expect(s).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator said so' });
  });

  it('waitForCompletionOrCreateCheckStatusResponse and createCheckStatusResponse', async () => {
    await client({ op: 'start', name: 'Sequence', instanceId: 'wait-me' });
    const waited = await client({ op: 'wait', id: 'wait-me', timeoutMs: 5000 });
    expect(waited.status).toBe(200);
    expect(JSON.parse(waited.body)).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);

    await client({ op: 'start', name: 'WaitForever', instanceId: 'never-done' });
    const pending = await client({ op: 'wait', id: 'never-done', timeoutMs: 200 });
    expect(pending.status).toBe(202);
    const check = await client({ op: 'checkStatus', id: 'never-done' });
    expect(check.status).toBe(202);
    expect(check.location).toBe(check.body.statusQueryGetUri);
    expect(check.body.id).toBe('never-done');
    expect(check.body.statusQueryGetUri).toMatch(
      /^http:\/\/example\.test\/runtime\/webhooks\/durabletask\/instances\/never-done\?taskHub=SampleHub/,
    );
  });

  it('lists by status, lists all (following continuation tokens), and purges', async () => {
    await client({ op: 'start', name: 'WaitForever', instanceId: 'list-a' });
    await client({ op: 'start', name: 'WaitForever', instanceId: 'list-b' });
    await waitForStatus('list-a', 'Running');
    await waitForStatus('list-b', 'Running');
    const running = await client({ op: 'list', statuses: ['Running'] });
    expect(running.ids).toEqual(expect.arrayContaining(['list-a', 'list-b']));
    expect(running.ids).not.toContain('client-seq');
    const total = h.engine.dispatcher.store.listInstances({ top: 10_000 }).length;
    expect((await client({ op: 'listAll' })).count).toBe(total);
    expect(await client({ op: 'purge', id: 'client-seq' })).toEqual({ instancesDeleted: 1 });
    expect(await client({ op: 'purge', id: 'client-seq' })).toEqual({ instancesDeleted: 0 });
    expect(h.engine.dispatcher.getInstance('client-seq')).toBeUndefined();
  });

  it('signals entities, reads their state, calls them from orchestrations', async () => {
    await client({ op: 'signal', key: 'c1', operation: 'add', input: 10 });
    await h.engine.idle();
    expect(await client({ op: 'readEntity', key: 'c1' })).toEqual({ entityExists: true, entityState: 10 });
    expect(await client({ op: 'readEntity', key: 'nobody' })).toEqual({ entityExists: false });

    const start = await h.api('POST', '/durabletask/orchestrators/EntityOrch', JSON.stringify('c1'));
    const inst = await h.waitFor(start.body.id);
    expect(JSON.parse(inst.output!)).toBe(17); // 10 + signal 5 + call 2, in order
    const events = h.engine.dispatcher.store.history(start.body.id).filter((e) => e.EventType === 14);
    expect(events.map((e) => e.EventId)).toEqual([0, 1, 2]);

    // An entity signalling another entity.
    await client({ op: 'signal', key: 'c1', operation: 'forward', input: 'c2' });
    await h.engine.idle();
    expect(await client({ op: 'readEntity', key: 'c2' })).toEqual({ entityExists: true, entityState: 17 });
    // delete → gone
    await client({ op: 'signal', key: 'c2', operation: 'delete' });
    await h.engine.idle();
    expect(await client({ op: 'readEntity', key: 'c2' })).toEqual({ entityExists: false });
  });

  it('turns a failing entity operation into an error the orchestrator can catch', async () => {
    const start = await h.api('POST', '/durabletask/orchestrators/EntityFail', '');
    const inst = await h.waitFor(start.body.id);
    expect(inst.status).toBe('Completed');
    expect(JSON.parse(inst.output!)).toEqual({ caught: true });
  });

  it('refuses critical sections as the bundled extension does: the host advertises OOProc schema V3, so lock fails', async () => {
    await client({ op: 'signal', key: 'locked', operation: 'reset' });
    const res = await h.api('POST', '/durabletask/orchestrators/LockOrch', JSON.stringify({ key: 'locked', amount: 1 }));
    const inst = await h.waitFor(res.body.id);
    expect(inst.status).toBe('Failed');
    expect(JSON.parse(inst.output!)).toMatch(
      /^Orchestrator function 'LockOrch' failed: lock requires a Durable Functions extension that supports OOProc schema V4 or higher \(this extension supports up to V3\)/,
    );
    // Nothing was locked or changed: the entity still serves everyone.
    await client({ op: 'signal', key: 'locked', operation: 'add', input: 100 });
    await h.engine.idle();
    expect(await client({ op: 'readEntity', key: 'locked' })).toEqual({ entityExists: true, entityState: 100 });
    expect(h.engine.dispatcher.store.getEntity('@counter@locked')?.lockOwner).toBeNull();
  });
});

describe('Durable HTTP API status codes', () => {
  const cases: [string, string, string, unknown, Record<string, string> | undefined, number][] = [
    ['status of an unknown instance', 'GET', '/durabletask/instances/nope', undefined, undefined, 404],
    ['raiseEvent to an unknown instance', 'POST', '/durabletask/instances/nope/raiseEvent/x', '{}', undefined, 404],
    ['terminate an unknown instance', 'POST', '/durabletask/instances/nope/terminate', undefined, undefined, 404],
    ['suspend an unknown instance', 'POST', '/durabletask/instances/nope/suspend', undefined, undefined, 404],
    ['purge an unknown instance', 'DELETE', '/durabletask/instances/nope', undefined, undefined, 404],
    ['start an unknown function', 'POST', '/durabletask/orchestrators/NoSuchOrchestrator', '', undefined, 400],
    ['start an activity as an orchestrator', 'POST', '/durabletask/orchestrators/Hello', '', undefined, 400],
    ['start with malformed JSON', 'POST', '/durabletask/orchestrators/Sequence', '{"oops', undefined, 400],
    [
      'raiseEvent with a non-JSON content type',
      'POST',
      '/durabletask/instances/nope/raiseEvent/x',
      '1',
      { 'content-type': 'text/plain' },
      415,
    ],
    ['purge by filter without createdTimeFrom', 'DELETE', '/durabletask/instances/', undefined, undefined, 400],
    ['list with a bad runtimeStatus', 'GET', '/durabletask/instances/?runtimeStatus=Sleeping', undefined, undefined, 400],
    ['signal an entity without op', 'POST', '/durabletask/entities/Counter/k', '1', undefined, 400],
    ['read a missing entity', 'GET', '/durabletask/entities/Counter/missing', undefined, undefined, 404],
    ['an unknown durable route', 'GET', '/durabletask/whatever', undefined, undefined, 404],
    ['a wrong method', 'GET', '/durabletask/orchestrators/Sequence', undefined, undefined, 405],
  ];
  it.each(cases)('%s → %s %s answers %#', async (_label, method, url, body, headers, expected) => {
    const res = await h.api(method, url, body, headers);
    expect(res.status).toBe(expected);
    if (expected >= 400 && expected !== 404) expect(res.text.length).toBeGreaterThan(0);
  });

  it('answers 410 for events and terminate on a finished instance, 202 on a running one', async () => {
    const start = await h.api('POST', '/durabletask/orchestrators/Sequence/finished-1', '');
    expect(start.status).toBe(202);
    expect(start.headers.get('location')).toBe(start.body.statusQueryGetUri);
    expect(start.headers.get('retry-after')).toBe('10');
    await h.waitFor('finished-1');
    expect((await h.api('POST', '/durabletask/instances/finished-1/raiseEvent/x', '{}')).status).toBe(410);
    expect((await h.api('POST', '/durabletask/instances/finished-1/terminate?reason=x')).status).toBe(410);
    const running = await h.api('POST', '/durabletask/orchestrators/WaitForever', '');
    const st = await h.api('GET', `/durabletask/instances/${running.body.id}`);
    expect(st.status).toBe(202);
    expect(st.headers.get('retry-after')).toBe('5');
    expect((await h.api('POST', `/durabletask/instances/${running.body.id}/raiseEvent/x`, '{}')).status).toBe(202);
  });

  it('signals an entity over HTTP, reads it back, and lists entities by name', async () => {
    expect((await h.api('POST', '/durabletask/entities/Counter/http-1?op=add', '7')).status).toBe(202);
    expect((await h.api('POST', '/durabletask/entities/counter/http-1?op=add', '3')).status).toBe(202);
    await h.engine.idle();
    const read = await h.api('GET', '/durabletask/entities/Counter/http-1');
    expect(read).toMatchObject({ status: 200, body: 10 });
    const list = await h.api('GET', '/durabletask/entities/Counter');
    expect(list.status).toBe(200);
    expect(list.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ entityId: { name: 'counter', key: 'http-1' }, state: 10 })]),
    );
    expect((await h.api('DELETE', '/durabletask/entities/Counter/http-1')).status).toBe(202);
    await h.engine.idle();
    expect((await h.api('GET', '/durabletask/entities/Counter/http-1')).status).toBe(404);
  });

  it('waits for completion when started with ?timeout= (200 with the output)', async () => {
    const res = await h.api('POST', '/durabletask/orchestrators/FanOut?timeout=10&pollingInterval=1', '4');
    expect(res.status).toBe(200);
    expect(res.body).toBe(20);
  });

  it('pages the list with top + x-ms-continuation-token and filters by prefix and time', async () => {
    for (const n of [1, 2, 3, 4, 5]) await h.api('POST', `/durabletask/orchestrators/Sequence/page-${n}`, '');
    for (const n of [1, 2, 3, 4, 5]) await h.waitFor(`page-${n}`);
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res: Awaited<ReturnType<Harness['api']>> = await h.api(
        'GET',
        '/durabletask/instances/?instanceIdPrefix=page-&top=2',
        undefined,
        token ? { 'x-ms-continuation-token': token } : {},
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.map((s: any) => s.instanceId));
      token = res.headers.get('x-ms-continuation-token');
      pages++;
    } while (token);
    expect(seen).toEqual(['page-1', 'page-2', 'page-3', 'page-4', 'page-5']);
    expect(pages).toBe(3);
    const future = new Date(Date.now() + 365 * 24 * 3600_000 * 100).toISOString();
    const none = await h.api('GET', `/durabletask/instances/?instanceIdPrefix=page-&createdTimeFrom=${future}`);
    expect(none.body).toEqual([]);
    const purge = await h.api('DELETE', '/durabletask/instances/?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Completed');
    expect(purge.status).toBe(200);
    expect(purge.body.instancesDeleted).toBeGreaterThanOrEqual(5);
    expect((await h.api('DELETE', '/durabletask/instances/?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Completed')).status).toBe(
      404,
    );
  });

  it('requires the system key on /runtime/webhooks/durabletask when keys are enabled', async () => {
    const api = new DurableHttpApi({
      dispatcher: h.engine.dispatcher,
      baseUrl: () => h.baseUrl,
      hubName: 'SampleHub',
      systemKey: 's3cret',
      enforceKey: true,
    });
    const req = (url: string, headers: Record<string, string> = {}) => api.handle({ method: 'GET', url, headers, body: Buffer.alloc(0) });
    expect((await req('/runtime/webhooks/durabletask/instances/nope'))?.status).toBe(401);
    expect((await req('/runtime/webhooks/durabletask/instances/nope?code=wrong'))?.status).toBe(401);
    expect((await req('/runtime/webhooks/durabletask/instances/nope?code=s3cret'))?.status).toBe(404);
    expect((await req('/runtime/webhooks/durabletask/instances/nope', { 'x-functions-key': 's3cret' }))?.status).toBe(404);
    expect(await req('/api/something')).toBeUndefined();
    const binding = JSON.parse(api.clientInputValue());
    expect(binding.managementUrls.statusQueryGetUri).toBe(
      `${h.baseUrl}/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=SampleHub&connection=Storage&code=s3cret`,
    );
    expect(binding.rpcBaseUrl).toMatch(new RegExp(`^${h.baseUrl}/durabletask/[\\w-]{40,}/$`));
    expect(binding.requiredQueryStringParameters).toBe('code=s3cret');
  });
});
