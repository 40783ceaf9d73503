// loadFunctionApp on its own (no server): registration, invocation path, hooks, logging, outputs.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../local/host/runtime/logger';
import { loadFunctionApp, type LoadedApp } from '../../../local/host/runtime/load-app';

const appDir = path.resolve(__dirname, '../../apps/runtime-basic');
const logger = createMemoryLogger();
let runtime: LoadedApp;
const seen = () => (globalThis as any).__runtimeBasic;

beforeAll(async () => {
  delete process.env.GREETING;
  runtime = await loadFunctionApp({ appDir, logger });
  await runtime.runAppStartHooks();
});
afterAll(async () => {
  await runtime.runAppTerminateHooks();
});

describe('loadFunctionApp', () => {
  it('registers every function of the main glob with its bindings', () => {
    const byName = Object.fromEntries(runtime.list().map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual([
      'binary',
      'created',
      'echo',
      'hooked',
      'noContent',
      'onEvent',
      'rescued',
      'throws',
      'tick',
    ]);
    expect(byName.echo.trigger).toMatchObject({ type: 'httpTrigger', direction: 'in', authLevel: 'anonymous', route: 'echo/{id:int?}' });
    expect(byName.echo.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
    expect(byName.tick.trigger).toMatchObject({ type: 'timerTrigger', schedule: '%TICK_SCHEDULE%' });
    expect(runtime.get('onEvent')?.trigger.type).toBe('eventGridTrigger');
    expect(runtime.get('nope')).toBeUndefined();
  });

  it('puts local.settings.json Values in the environment and reads host.json', () => {
    expect(process.env.GREETING).toBe('hello');
    expect(runtime.hostJson.extensions.http.routePrefix).toBe('api');
    expect(seen().appStart).toBe(1);
  });

  it('runs an HTTP trigger and returns the http $return', async () => {
    const result = await runtime.invoke('echo', {
      triggerData: {
        http: {
          method: 'POST',
          url: 'http://127.0.0.1:7071/api/echo/5?x=1',
          headers: { 'x-custom': 'v', 'content-type': 'text/plain' },
          query: { x: '1' },
          params: { id: '5' },
          body: { string: 'payload' },
        },
      },
    });
    const http = result.returnValue?.http as any;
    expect(http.statusCode).toBe('200');
    const body = JSON.parse(Buffer.from(http.body.bytes).toString('utf8'));
    expect(body).toMatchObject({ method: 'POST', params: { id: '5' }, query: { x: '1' }, body: 'payload', greeting: 'hello' });
    expect(body.headers['x-custom']).toBe('v');
  });

  it('routes user logs through log hooks into the structured log', () => {
    const record = logger.records.find((r) => r.category === 'Function.echo.User');
    expect(record).toMatchObject({ level: 'information', functionName: 'echo', logCategory: 'user' });
    expect(record?.message).toBe('echo POST SECRET=***');
    expect(typeof record?.invocationId).toBe('string');
  });

  it('runs pre/post hooks that can replace the handler, the result and the error', async () => {
    const event = { id: 'e1', subject: 's', eventType: 't', data: {} };
    const hooked = await runtime.invoke('hooked', { triggerData: { json: JSON.stringify(event) } });
    expect(hooked.returnValue).toEqual({ string: 'got e1:wrapped' });
    const rescued = await runtime.invoke('rescued', { triggerData: { json: '{}' } });
    expect(rescued.returnValue).toEqual({ string: 'rescued by hook' });
    expect(seen().post.find((p: any) => p.name === 'rescued')).toEqual({ name: 'rescued', sawPre: true, error: 'will be rescued' });
  });

  it('returns non-HTTP results and extra outputs as typed data, with camel-cased trigger metadata', async () => {
    const event = { id: 'e2', subject: 'ok', eventType: 't', data: { a: 1 } };
    const result = await runtime.invoke('onEvent', {
      triggerData: { json: JSON.stringify(event) },
      triggerMetadata: { Data: { json: '{"A":1}' } },
    });
    expect(result.returnValue).toEqual({ json: JSON.stringify({ handled: 'e2' }) });
    const [outName] = Object.keys(result.outputData);
    expect(outName).toMatch(/^queueOutput/);
    expect(result.outputData[outName]).toEqual({ json: JSON.stringify({ forwarded: 'e2' }) });
    expect(seen().events.at(-1).meta).toEqual({ data: { a: 1 } });
  });

  it('rejects with the function failure message and logs the failure', async () => {
    await expect(runtime.invoke('onEvent', { triggerData: { json: JSON.stringify({ id: 'e3', subject: 'fail' }) } })).rejects.toThrow(
      'event e3 failed',
    );
    expect(logger.records.some((r) => r.level === 'error' && r.functionName === 'onEvent' && r.error === 'event e3 failed')).toBe(true);
  });

  it('camel-cases timer input', async () => {
    const timer = { Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: true };
    await runtime.invoke('tick', { triggerData: { json: JSON.stringify(timer) } });
    expect(seen().timer.at(-1)).toEqual({
      timer: { schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: true },
      name: 'tick',
    });
  });

  it('rejects unknown functions and refuses a second app in the process', async () => {
    await expect(runtime.invoke('missing', { triggerData: { string: '' } })).rejects.toThrow("Function 'missing' is not registered");
    await expect(loadFunctionApp({ appDir, logger })).rejects.toThrow(/one app per process/);
  });
});

describe('registration lock', () => {
  it('refuses registrations after startup, as the worker does', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { app } = require(require.resolve('@azure/functions', { paths: [appDir] }));
    expect(() => app.http('late', { handler: () => ({}) })).toThrow('A function can only be registered during app startup.');
    expect(runtime.get('late')).toBeUndefined();
  });
});
