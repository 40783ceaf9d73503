// The real durable-functions library runs through loadFunctionApp + invoke: a hand-made orchestrator payload
// (the shape the Durable extension sends) in, OrchestratorState actions out; activities and the durableClient input.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../local/host/runtime/logger';
import { loadFunctionApp, type LoadedApp } from '../../../local/host/runtime/load-app';

const appDir = path.resolve(__dirname, '../../apps/runtime-durable');
let runtime: LoadedApp;
const clientInput = {
  taskHubName: 'RuntimeDurable',
  creationUrls: {},
  managementUrls: { id: 'INSTANCEID' },
  baseUrl: 'http://127.0.0.1:7071/runtime/webhooks/durabletask',
  requiredQueryStringParameters: '',
};

beforeAll(async () => {
  runtime = await loadFunctionApp({ appDir, logger: createMemoryLogger(), durableClientInput: () => JSON.stringify(clientInput) });
});

const ts = '2026-01-01T00:00:00.000Z';
function orchestratorPayload(history: object[], input: unknown) {
  return {
    history,
    input,
    instanceId: 'inst-1',
    isReplaying: false,
    parentInstanceId: null,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '10000.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
}
const started = (name: string, input: unknown) => [
  { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: ts },
  { EventType: 0, EventId: -1, IsPlayed: false, Timestamp: ts, Name: name, Input: JSON.stringify(input) },
];

describe('durable-functions through the runtime', () => {
  it('registers orchestration, activity and client functions', () => {
    expect(runtime.get('sayHellos')?.trigger.type).toBe('orchestrationTrigger');
    expect(runtime.get('sayHello')?.trigger.type).toBe('activityTrigger');
    expect(Object.values(runtime.get('startIt')!.bindings).some((b) => b.type === 'durableClient')).toBe(true);
  });

  it('returns the first CallActivity action on the first episode', async () => {
    const payload = orchestratorPayload(started('sayHellos', { first: 'Tokyo' }), { first: 'Tokyo' });
    const result = await runtime.invoke('sayHellos', { triggerData: { string: JSON.stringify(payload) } });
    const state = JSON.parse(result.returnValue!.json!);
    expect(state).toMatchObject({
      isDone: false,
      schemaVersion: 2,
      actions: [[{ actionType: 0, functionName: 'sayHello', input: '"Tokyo"' }]],
    });
  });

  it('completes when history holds both results', async () => {
    const history = [
      ...started('sayHellos', { first: 'Tokyo' }),
      { EventType: 4, EventId: 0, IsPlayed: false, Timestamp: ts, Name: 'sayHello', Input: '"Tokyo"' },
      { EventType: 13, EventId: -1, IsPlayed: false, Timestamp: ts },
      { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: ts },
      { EventType: 5, EventId: -1, IsPlayed: false, Timestamp: ts, TaskScheduledId: 0, Result: '"Hello Tokyo!"' },
      { EventType: 4, EventId: 1, IsPlayed: false, Timestamp: ts, Name: 'sayHello', Input: '"Seattle"' },
      { EventType: 13, EventId: -1, IsPlayed: false, Timestamp: ts },
      { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: ts },
      { EventType: 5, EventId: -1, IsPlayed: false, Timestamp: ts, TaskScheduledId: 1, Result: '"Hello Seattle!"' },
    ];
    const result = await runtime.invoke('sayHellos', {
      triggerData: { string: JSON.stringify(orchestratorPayload(history, { first: 'Tokyo' })) },
    });
    const state = JSON.parse(result.returnValue!.json!);
    expect(state.isDone).toBe(true);
    expect(state.output).toEqual(['Hello Tokyo!', 'Hello Seattle!']);
    expect(state.actions[0]).toHaveLength(2);
  });

  it('runs an activity with a string input', async () => {
    const result = await runtime.invoke('sayHello', { triggerData: { string: '"Paris"' } });
    expect(result.returnValue).toEqual({ string: 'Hello Paris!' });
  });

  it('reports a failing orchestrator with the $OutOfProcData$ payload in the message', async () => {
    const payload = orchestratorPayload(started('boom', null), null);
    const failure = await runtime.invoke('boom', { triggerData: { string: JSON.stringify(payload) } }).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    const state = JSON.parse(message.slice(message.indexOf('$OutOfProcData$:') + '$OutOfProcData$:'.length));
    expect(state.error).toContain('orchestrator exploded');
  });

  it('fills the durableClient input from the engine', async () => {
    const result = await runtime.invoke('startIt', {
      triggerData: { http: { method: 'GET', url: 'http://127.0.0.1:7071/api/start/x', headers: {}, query: {}, params: { name: 'x' } } },
    });
    const http = result.returnValue!.http as any;
    expect(JSON.parse(Buffer.from(http.body.bytes).toString())).toEqual({ taskHubName: 'RuntimeDurable' });
  });
});
