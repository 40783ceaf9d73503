// Sample app for the durable engine conformance tests: one orchestration per feature.
const df = require('durable-functions');

const attempts = new Map();

df.app.activity('Hello', { handler: (name) => `Hello ${name}!` });
df.app.activity('Double', { handler: (n) => n * 2 });
df.app.activity('Echo', { handler: (value) => ({ value, type: typeof value }) });
df.app.activity('Fail', {
  handler: (msg) => {
    throw new Error(`activity broke: ${msg}`);
  },
});
// Fails until it has been called `failTimes` times for this key.
df.app.activity('Flaky', {
  handler: ({ key, failTimes }) => {
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    if (n <= failTimes) throw new Error(`flaky attempt ${n}`);
    return `ok after ${n}`;
  },
});
// Tracks concurrency so the test can check maxConcurrentActivityFunctions.
let active = 0;
let peak = 0;
df.app.activity('Slow', {
  handler: async (ms) => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, ms));
    active--;
    return peak;
  },
});

df.app.orchestration('Sequence', function* (context) {
  const out = [];
  out.push(yield context.df.callActivity('Hello', 'Tokyo'));
  out.push(yield context.df.callActivity('Hello', 'Seattle'));
  out.push(yield context.df.callActivity('Hello', 'London'));
  return out;
});

df.app.orchestration('FanOut', function* (context) {
  const n = context.df.getInput() ?? 10;
  const tasks = [];
  for (let i = 1; i <= n; i++) tasks.push(context.df.callActivity('Double', i));
  const results = yield context.df.Task.all(tasks);
  return results.reduce((a, b) => a + b, 0);
});

df.app.orchestration('SlowFan', function* (context) {
  const tasks = [];
  for (let i = 0; i < 8; i++) tasks.push(context.df.callActivity('Slow', 50));
  const peaks = yield context.df.Task.all(tasks);
  return Math.max(...peaks);
});

df.app.orchestration('EchoAll', function* (context) {
  const values = context.df.getInput();
  const out = [];
  for (const v of values) out.push(yield context.df.callActivity('Echo', v));
  return out;
});

df.app.orchestration('TimerWait', function* (context) {
  const ms = context.df.getInput();
  const start = context.df.currentUtcDateTime.getTime();
  yield context.df.createTimer(new Date(start + ms));
  return { waitedMs: context.df.currentUtcDateTime.getTime() - start };
});

df.app.orchestration('Approval', function* (context) {
  context.df.setCustomStatus({ stage: 'waiting' });
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + context.df.getInput().timeoutMs);
  const timer = context.df.createTimer(deadline);
  const approval = context.df.waitForExternalEvent('Approve');
  const winner = yield context.df.Task.any([approval, timer]);
  if (winner === approval) {
    timer.cancel();
    context.df.setCustomStatus({ stage: 'approved' });
    return { approved: true, by: approval.result };
  }
  context.df.setCustomStatus({ stage: 'timed-out' });
  return { approved: false };
});

df.app.orchestration('EarlyEvent', function* (context) {
  const first = yield context.df.callActivity('Slow', 200);
  const go = yield context.df.waitForExternalEvent('Go');
  return { first, go };
});

df.app.orchestration('Retry', function* (context) {
  const input = context.df.getInput();
  const opts = new df.RetryOptions(1000, input.maxAttempts);
  try {
    return yield context.df.callActivityWithRetry('Flaky', opts, { key: context.df.instanceId, failTimes: input.failTimes });
  } catch (err) {
    return { caught: err.message };
  }
});

df.app.orchestration('Parent', function* (context) {
  const seq = yield context.df.callSubOrchestrator('Sequence', undefined, `${context.df.instanceId}-child`);
  const sum = yield context.df.callSubOrchestrator('FanOut', 3);
  let failure;
  try {
    yield context.df.callSubOrchestrator('Boom', null);
  } catch (err) {
    failure = err.message;
  }
  const retried = yield context.df.callSubOrchestratorWithRetry('Retry', new df.RetryOptions(500, 2), { failTimes: 1, maxAttempts: 3 });
  return { seq, sum, failure, retried };
});

df.app.orchestration('Countdown', function* (context) {
  const n = context.df.getInput();
  context.df.setCustomStatus({ n });
  if (n > 0) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    context.df.continueAsNew(n - 1);
    return;
  }
  return 'liftoff';
});

df.app.orchestration('Boom', function* () {
  throw new Error('orchestrator exploded');
});

df.app.orchestration('ActivityFails', function* (context) {
  yield context.df.callActivity('Fail', 'disk');
  return 'unreachable';
});

df.app.orchestration('NonDeterministic', function* (context) {
  globalThis.__nondetRuns = (globalThis.__nondetRuns ?? 0) + 1;
  const name = globalThis.__nondetRuns === 1 ? 'Hello' : 'Double';
  yield context.df.callActivity(name, 1);
  yield context.df.callActivity('Hello', 'again');
  return 'done';
});

df.app.orchestration('WaitForever', function* (context) {
  context.df.setCustomStatus('parked');
  return yield context.df.waitForExternalEvent('Never');
});

// Entities
df.app.entity('Counter', (context) => {
  const value = context.df.getState(() => 0);
  switch (context.df.operationName) {
    case 'add':
      context.df.setState(value + context.df.getInput());
      break;
    case 'get':
      context.df.return(value);
      break;
    case 'reset':
      context.df.setState(0);
      break;
    case 'delete':
      context.df.destructOnExit();
      break;
    case 'forward':
      context.df.signalEntity(new df.EntityId('Counter', context.df.getInput()), 'add', value);
      break;
    case 'fail':
      throw new Error('entity operation failed');
  }
});

df.app.orchestration('EntityOrch', function* (context) {
  const id = new df.EntityId('Counter', context.df.getInput());
  context.df.signalEntity(id, 'add', 5);
  yield context.df.callEntity(id, 'add', 2);
  const value = yield context.df.callEntity(id, 'get');
  return value;
});

df.app.orchestration('LockOrch', function* (context) {
  const { key, amount } = context.df.getInput();
  const id = new df.EntityId('Counter', key);
  const lock = yield context.df.lock(id);
  const before = yield context.df.callEntity(id, 'get');
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 50));
  yield context.df.callEntity(id, 'add', amount);
  const after = yield context.df.callEntity(id, 'get');
  lock.release();
  return { before, after };
});

// A client function on an Event Grid trigger (the product's entry shape).
df.app.client.eventGrid('StartFromEvent', {
  handler: async (event, client) => {
    const id = await client.startNew(event.data.orchestration, { instanceId: event.subject, input: event.data.input });
    const status = await client.getStatus(id);
    return { id, runtimeStatus: status.runtimeStatus };
  },
});

// Exercises the DurableClient API against the host (called with { op, ... } in the event data).
df.app.client.eventGrid('ClientOps', {
  handler: async (event, client) => {
    const d = event.data;
    switch (d.op) {
      case 'start':
        return { id: await client.startNew(d.name, { instanceId: d.instanceId, input: d.input }) };
      case 'status': {
        const s = await client.getStatus(d.id, { showHistory: d.showHistory, showHistoryOutput: d.showHistory });
        return { runtimeStatus: s.runtimeStatus, output: s.output, input: s.input, customStatus: s.customStatus, history: s.history };
      }
      case 'raise':
        await client.raiseEvent(d.id, d.event, d.data);
        return { ok: true };
      case 'terminate':
        await client.terminate(d.id, d.reason);
        return { ok: true };
      case 'suspend':
        await client.suspend(d.id, 'pause');
        return { ok: true };
      case 'resume':
        await client.resume(d.id, 'go');
        return { ok: true };
      case 'purge':
        return await client.purgeInstanceHistory(d.id);
      case 'list': {
        const all = await client.getStatusBy({ runtimeStatus: d.statuses });
        return { ids: all.map((s) => s.instanceId).sort() };
      }
      case 'listAll':
        return { count: (await client.getStatusAll()).length };
      case 'wait': {
        const req = new (require('@azure/functions').HttpRequest)({ method: 'GET', url: 'http://example.test/api/x' });
        const res = await client.waitForCompletionOrCreateCheckStatusResponse(req, d.id, {
          timeoutInMilliseconds: d.timeoutMs,
          retryIntervalInMilliseconds: 50,
        });
        return { status: res.status, body: await res.text() };
      }
      case 'checkStatus': {
        const req = new (require('@azure/functions').HttpRequest)({ method: 'GET', url: 'http://example.test/api/x' });
        const res = client.createCheckStatusResponse(req, d.id);
        return { status: res.status, location: res.headers.get('location'), body: JSON.parse(await res.text()) };
      }
      case 'signal':
        await client.signalEntity(new df.EntityId('Counter', d.key), d.operation, d.input);
        return { ok: true };
      case 'readEntity': {
        const r = await client.readEntityState(new df.EntityId('Counter', d.key));
        return { entityExists: r.entityExists, entityState: r.entityState };
      }
      default:
        throw new Error(`unknown op ${d.op}`);
    }
  },
});

df.app.orchestration('EntityFail', function* (context) {
  try {
    yield context.df.callEntity(new df.EntityId('Counter', 'boom'), 'fail');
    return 'no error';
  } catch (err) {
    return { caught: err instanceof Error };
  }
});

// Fails on its first run for a given parent, succeeds afterwards (sub-orchestration retry).
const flakyOrchRuns = new Map();
df.app.orchestration('FlakyOrch', function* (context) {
  const parent = context.df.parentInstanceId;
  if (!context.df.isReplaying) flakyOrchRuns.set(parent, (flakyOrchRuns.get(parent) ?? 0) + 1);
  if (flakyOrchRuns.get(parent) === 1) throw new Error('first run fails');
  return yield context.df.callActivity('Hello', 'retry');
});

df.app.orchestration('SubRetry', function* (context) {
  return yield context.df.callSubOrchestratorWithRetry('FlakyOrch', new df.RetryOptions(2000, 3), null);
});
