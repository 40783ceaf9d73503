// Test harness: the real app loader + the durable engine + a loopback server for the Durable HTTP API only.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRealClock, type HostClock, type HostHttpResponse } from '../../../local/host/contract';
import { createDurableEngine, type LocalDurableEngine } from '../../../local/host/durable';
import type { InstanceRow } from '../../../local/host/durable/store';
import { loadFunctionApp, type LoadedApp } from '../../../local/host/runtime/load-app';
import { createMemoryLogger } from '../../../local/host/runtime/logger';

export interface Harness {
  runtime: LoadedApp;
  engine: LocalDurableEngine;
  clock: HostClock;
  baseUrl: string;
  stateDir: string;
  logger: ReturnType<typeof createMemoryLogger>;
  api(
    method: string,
    urlPath: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: any; text: string }>;
  waitFor(instanceId: string, timeoutMs?: number): Promise<InstanceRow>;
  stop(): Promise<void>;
}

export async function startHarness(
  appDir: string,
  options: {
    systemKey?: string;
    /** Replaces the app's host.json `extensions.durableTask` settings. */ durableTask?: Record<string, unknown>;
  } = {},
): Promise<Harness> {
  process.env.NO_PROXY = '127.0.0.1,localhost';
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-test-'));
  const logger = createMemoryLogger('debug');
  const clock = createRealClock();
  // The engine needs the runtime and the runtime's client inputs need the engine: late-bound.
  const ref: { engine?: LocalDurableEngine } = {};
  const runtime = await loadFunctionApp({ appDir, logger, durableClientInput: () => ref.engine!.clientInputValue() });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void ref
        .engine!.handleHttp({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) })
        .then((r: HostHttpResponse | undefined) => {
          const out = r ?? { status: 404, body: 'not a durable route' };
          res.writeHead(out.status, out.headers ?? {});
          res.end(out.body ?? '');
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const engine = createDurableEngine({
    runtime,
    stateDir,
    hostJson: options.durableTask
      ? { ...runtime.hostJson, extensions: { ...runtime.hostJson.extensions, durableTask: options.durableTask } }
      : runtime.hostJson,
    clock,
    baseUrl: () => baseUrl,
    logger,
    systemKey: options.systemKey,
  }) as LocalDurableEngine;
  ref.engine = engine;
  await engine.start();

  const harness: Harness = {
    runtime,
    engine,
    clock,
    baseUrl,
    stateDir,
    logger,
    async api(method, urlPath, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      // `/durabletask/…` means the client's rpc base URL, which carries the host's rpc key.
      const rpcPath = new URL(JSON.parse(engine.clientInputValue()).rpcBaseUrl as string).pathname;
      const res = await fetch(baseUrl + urlPath.replace(/^\/durabletask\//, rpcPath), init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* keep text */
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async waitFor(instanceId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const inst = engine.dispatcher.getInstance(instanceId);
        if (inst && ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(inst.status)) return inst;
        if (Date.now() > deadline)
          throw new Error(`instance ${instanceId} did not finish in ${timeoutMs} ms (status ${inst?.status ?? 'missing'})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop() {
      await engine.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Event types of a stored history, by name. */
export function eventNames(history: { EventType: number }[]): string[] {
  const names: Record<number, string> = {
    0: 'ExecutionStarted',
    1: 'ExecutionCompleted',
    3: 'ExecutionTerminated',
    4: 'TaskScheduled',
    5: 'TaskCompleted',
    6: 'TaskFailed',
    7: 'SubOrchestrationInstanceCreated',
    8: 'SubOrchestrationInstanceCompleted',
    9: 'SubOrchestrationInstanceFailed',
    10: 'TimerCreated',
    11: 'TimerFired',
    12: 'OrchestratorStarted',
    13: 'OrchestratorCompleted',
    14: 'EventSent',
    15: 'EventRaised',
    19: 'ExecutionSuspended',
    20: 'ExecutionResumed',
  };
  return history.map((e) => names[e.EventType] ?? String(e.EventType));
}
