// Orchestrations driven through the real durable-functions library: outputs, history shapes, ids, status codes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventNames, startHarness, type Harness } from './harness';

const appDir = path.resolve(__dirname, '../../apps/durable-basic');
let h: Harness;

beforeAll(async () => {
  // 1 simulated hour passes in 0.36 s of real time.
  h = await startHarness(appDir);
});
afterAll(async () => {
  await h?.stop();
});

async function start(name: string, input?: unknown, instanceId?: string): Promise<string> {
  const res = await h.api(
    'POST',
    `/durabletask/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`,
    input === undefined ? '' : JSON.stringify(input),
  );
  expect(res.status).toBe(202);
  return res.body.id;
}
const history = (id: string) => h.engine.dispatcher.store.history(id);
const output = async (id: string) => {
  const inst = await h.waitFor(id);
  return { status: inst.status, output: JSON.parse(inst.output ?? 'null') };
};

describe('orchestrations', () => {
  it('chains activities and records the DTFx history shape with sequence ids', async () => {
    const id = await start('Sequence');
    expect(await output(id)).toEqual({ status: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    const events = history(id);
    expect(eventNames(events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'OrchestratorCompleted',
      'ExecutionCompleted',
    ]);
    const scheduled = events.filter((e) => e.EventType === 4);
    expect(scheduled.map((e) => [e.EventId, e.Name, e.Input])).toEqual([
      [0, 'Hello', '"Tokyo"'],
      [1, 'Hello', '"Seattle"'],
      [2, 'Hello', '"London"'],
    ]);
    expect(events.filter((e) => e.EventType === 5).map((e) => [e.TaskScheduledId, e.Result])).toEqual([
      [0, '"Hello Tokyo!"'],
      [1, '"Hello Seattle!"'],
      [2, '"Hello London!"'],
    ]);
  });

  it('fans out with Task.all: ids 0..n-1 in one episode, results summed', async () => {
    const id = await start('FanOut', 10);
    expect(await output(id)).toEqual({ status: 'Completed', output: 110 });
    const scheduled = history(id).filter((e) => e.EventType === 4);
    expect(scheduled.map((e) => e.EventId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it.each([
    ['string', 'Tokyo'],
    ['JSON-looking string', '{"a":1}'],
    ['number', 42],
    ['boolean', false],
    ['null', null],
    ['object', { nested: [1, 'two', { three: 3 }] }],
    ['large number', 2 ** 53 - 1],
    ['unicode', 'zürich ✓ 東京'],
  ])('round-trips a %s through activity input and output', async (_label, value) => {
    const id = await start('EchoAll', [value]);
    const { status, output: out } = await output(id);
    expect(status).toBe('Completed');
    expect(out).toEqual([{ value, type: value === null ? 'object' : typeof value }]);
  });

  it('passes an orchestration input through startNew unchanged, and "" when started without input', async () => {
    const id = await start('Countdown', 0);
    expect(await output(id)).toEqual({ status: 'Completed', output: 'liftoff' });
    const res = await h.api('GET', `/durabletask/instances/${id}`);
    expect(res.body.input).toBe(0);
  });

  it('runs activities concurrently up to maxConcurrentActivityFunctions (4 in host.json)', async () => {
    const id = await start('SlowFan');
    const { output: peak } = await output(id);
    expect(peak).toBe(4);
  });

  it('waits on a durable timer in real time (1.5 s)', async () => {
    const t0 = Date.now();
    const id = await start('TimerWait', 1_500);
    expect(await output(id)).toEqual({ status: 'Completed', output: { waitedMs: expect.any(Number) } });
    const { output: out } = await output(id);
    expect(out.waitedMs).toBeGreaterThanOrEqual(1_500);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_450);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const names = eventNames(history(id));
    expect(names).toContain('TimerCreated');
    expect(names).toContain('TimerFired');
    const created = history(id).find((e) => e.EventType === 10)!;
    const fired = history(id).find((e) => e.EventType === 11)!;
    expect(fired.TimerId).toBe(created.EventId);
    expect(fired.FireAt).toBe(created.FireAt);
  });

  it('fires timers in due order: a short one started later finishes first', async () => {
    const long = await start('TimerWait', 2_500);
    const short = await start('TimerWait', 300);
    const shortDone = await h.waitFor(short);
    expect(h.engine.dispatcher.getInstance(long)?.status).toBe('Running');
    const longDone = await h.waitFor(long);
    expect(JSON.parse(longDone.output!).waitedMs).toBeGreaterThanOrEqual(2_500);
    expect(longDone.updatedAt).toBeGreaterThan(shortDone.updatedAt);
  });

  it('races an external event against a timer; the event wins and the timer is cancelled', async () => {
    const id = await start('Approval', { timeoutMs: 48 * 3600_000 });
    // Custom status is visible while the orchestration waits.
    for (let i = 0; i < 100; i++) {
      const s = await h.api('GET', `/durabletask/instances/${id}`);
      if (s.body.customStatus) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const waiting = await h.api('GET', `/durabletask/instances/${id}`);
    expect(waiting.status).toBe(202);
    expect(waiting.body).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: { stage: 'waiting' },
      input: { timeoutMs: 48 * 3600_000 },
      output: null,
    });
    const raised = await h.api('POST', `/durabletask/instances/${id}/raiseEvent/Approve`, { who: 'alice' });
    expect(raised.status).toBe(202);
    expect(await output(id)).toEqual({ status: 'Completed', output: { approved: true, by: { who: 'alice' } } });
    const done = await h.api('GET', `/durabletask/instances/${id}`);
    expect(done.status).toBe(200);
    expect(done.body.customStatus).toEqual({ stage: 'approved' });
    expect(eventNames(history(id))).not.toContain('TimerFired');
  });

  it('races an external event against a timer; the timer wins', async () => {
    const id = await start('Approval', { timeoutMs: 500 });
    expect(await output(id)).toEqual({ status: 'Completed', output: { approved: false } });
  });

  it('buffers an external event raised before the orchestrator waits for it', async () => {
    const id = await start('EarlyEvent');
    const raised = await h.api('POST', `/durabletask/instances/${id}/raiseEvent/Go`, JSON.stringify('early'));
    expect(raised.status).toBe(202);
    expect(await output(id)).toEqual({ status: 'Completed', output: { first: expect.any(Number), go: 'early' } });
  });

  it('retries an activity with the hidden retry timers in history', async () => {
    const id = await start('Retry', { failTimes: 2, maxAttempts: 3 });
    expect(await output(id)).toEqual({ status: 'Completed', output: 'ok after 3' });
    const shape = history(id)
      .filter((e) => [4, 5, 6, 10, 11].includes(e.EventType))
      .map((e) => `${eventNames([e])[0]}(${e.EventId >= 0 ? e.EventId : (e.TaskScheduledId ?? e.TimerId)})`);
    expect(shape).toEqual([
      'TaskScheduled(0)',
      'TaskFailed(0)',
      'TimerCreated(1)',
      'TimerFired(1)',
      'TaskScheduled(2)',
      'TaskFailed(2)',
      'TimerCreated(3)',
      'TimerFired(3)',
      'TaskScheduled(4)',
      'TaskCompleted(4)',
    ]);
    // Backoff: the first retry timer fires 1 s after the failure.
    const failed = history(id).find((e) => e.EventType === 6)!;
    const timer = history(id).find((e) => e.EventType === 10)!;
    expect(Date.parse(timer.FireAt as string) - Date.parse(failed.Timestamp)).toBeGreaterThanOrEqual(999);
    expect(String(failed.Reason)).toBe("Activity function 'Flaky' failed: flaky attempt 1");
  });

  it('throws the last error into the orchestrator when retries are exhausted', async () => {
    const id = await start('Retry', { failTimes: 5, maxAttempts: 2 });
    const { status, output: out } = await output(id);
    expect(status).toBe('Completed');
    expect(out.caught).toContain("Activity function 'Flaky' failed: flaky attempt 2");
    expect(history(id).filter((e) => e.EventType === 6)).toHaveLength(2);
    expect(history(id).filter((e) => e.EventType === 10)).toHaveLength(2);
  });

  it('runs sub-orchestrations (named, generated id, failing, with retry)', async () => {
    const id = await start('Parent', undefined, 'parent-1');
    const { status, output: out } = await output(id);
    expect(status).toBe('Completed');
    expect(out.seq).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(out.sum).toBe(12);
    expect(out.failure).toContain("Orchestrator function 'Boom' failed: orchestrator exploded");
    expect(out.retried).toBe('ok after 2');
    const child = h.engine.dispatcher.getInstance('parent-1-child');
    expect(child).toMatchObject({ status: 'Completed', parentId: 'parent-1', parentTaskId: 0 });
    const created = history(id)
      .filter((e) => e.EventType === 7)
      .map((e) => e.InstanceId);
    expect(created[0]).toBe('parent-1-child');
    expect(created[1]).toBe('parent-1:1');
  });

  it('retries a failing sub-orchestration with hidden timer ids and a new child per attempt', async () => {
    const id = await start('SubRetry');
    expect(await output(id)).toEqual({ status: 'Completed', output: 'Hello retry!' });
    const shape = history(id)
      .filter((e) => [7, 8, 9, 10, 11].includes(e.EventType))
      .map((e) => `${eventNames([e])[0]}(${e.EventId >= 0 ? e.EventId : (e.TaskScheduledId ?? e.TimerId)})`);
    expect(shape).toEqual([
      'SubOrchestrationInstanceCreated(0)',
      'SubOrchestrationInstanceFailed(0)',
      'TimerCreated(1)',
      'TimerFired(1)',
      'SubOrchestrationInstanceCreated(2)',
      'SubOrchestrationInstanceCompleted(2)',
    ]);
    expect(h.engine.dispatcher.getInstance(`${id}:0`)?.status).toBe('Failed');
    expect(h.engine.dispatcher.getInstance(`${id}:2`)?.status).toBe('Completed');
  });

  it('continues as new with a fresh history and the new input', async () => {
    const id = await start('Countdown', 3);
    expect(await output(id)).toEqual({ status: 'Completed', output: 'liftoff' });
    const events = history(id);
    expect(events.filter((e) => e.EventType === 0)).toHaveLength(1);
    expect(events.find((e) => e.EventType === 0)!.Input).toBe('0');
    const res = await h.api('GET', `/durabletask/instances/${id}`);
    expect(res.body).toMatchObject({ input: 0, customStatus: { n: 0 }, output: 'liftoff' });
  });

  it("fails an instance whose orchestrator throws, with the extension's message", async () => {
    const id = await start('Boom');
    expect(await output(id)).toEqual({ status: 'Failed', output: "Orchestrator function 'Boom' failed: orchestrator exploded" });
    const res = await h.api('GET', `/durabletask/instances/${id}`);
    expect(res.status).toBe(200);
    const strict = await h.api('GET', `/durabletask/instances/${id}?returnInternalServerErrorOnFailure=true`);
    expect(strict.status).toBe(500);
  });

  it('fails an instance on an unhandled activity failure, keeping the activity reason', async () => {
    const id = await start('ActivityFails');
    const { status, output: out } = await output(id);
    expect(status).toBe('Failed');
    expect(out).toContain("Orchestrator function 'ActivityFails' failed: Activity function 'Fail' failed: activity broke: disk");
  });

  it('survives a corrupt queued message: the instance fails with a host error, the host keeps running', async () => {
    const id = await start('WaitForever');
    for (let i = 0; i < 200 && h.engine.dispatcher.getInstance(id)?.status !== 'Running'; i++) await new Promise((r) => setTimeout(r, 5));
    h.engine.dispatcher.store.insertMessage({ kind: 'orch', target: id, payload: { event: null }, dueAt: 0 });
    expect((await h.api('POST', `/durabletask/instances/${id}/raiseEvent/Never`, '1')).status).toBe(202);
    const { status, output: out } = await output(id);
    expect(status).toBe('Failed');
    expect(out).toMatch(/^Host error while running orchestrator function 'WaitForever': /);
    expect(h.logger.records.some((r) => r.level === 'error' && r.message.includes(`host error in orchestration '${id}'`))).toBe(true);
    const next = await start('Sequence');
    expect((await output(next)).status).toBe('Completed');
  });

  it('detects nondeterminism (replay schedules a different activity) and fails the instance clearly', async () => {
    const id = await start('NonDeterministic');
    const { status, output: out } = await output(id);
    expect(status).toBe('Failed');
    expect(out).toMatch(/Non-Deterministic workflow detected: .*CallActivity 'Hello' with sequence ID 0.*CallActivity 'Double'/);
  });
});
