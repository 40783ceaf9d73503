/**
 * Programmatic API of the local Functions host: load an app by its folder, serve HTTP triggers, the Event Grid
 * and Durable webhooks, admin endpoints and timers, with the durable engine wired in.
 *
 *   const host = await startHost({ appDir, port: 0 });
 *   await fetch(`${host.baseUrl}/api/hello`);
 *   await host.stop();
 *
 * One host per process: `@azure/functions-core` is process-global.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRealClock, type DurableEngine, type DurableEngineFactory, type HostClock, type HostLogger } from './contract';
import { createDurableEngine } from './durable/index';
import { readLocalSettings } from './runtime/app-files';
import { createDispatcher } from './runtime/dispatch';
import { resolveKeys, type HostKeys } from './runtime/keys';
import { errorMessage, loadFunctionApp, type LoadedApp } from './runtime/load-app';
import { createStructuredLogger, type LogRecord } from './runtime/logger';
import { platformEnvironment, type PlatformOptions } from './runtime/platform';
import { startServer } from './runtime/server';
import { createTimerScheduler, timerPayload } from './runtime/timers';

export type { HostKeys } from './runtime/keys';
export type { LoadedApp } from './runtime/load-app';
export type { HostingPlan, PlatformOptions } from './runtime/platform';
export type { LogRecord } from './runtime/logger';

export interface StartHostOptions {
  appDir: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Durable store folder; default a fresh temporary folder removed on stop (nothing survives). */
  stateDir?: string;
  /** Keys: generated when omitted, given ones used as-is, `false` disables key checks (Core Tools' behaviour). */
  keys?: { master?: string; function?: string; eventGrid?: string; durable?: string } | false;
  /** Extra environment for the app (applied over local.settings.json Values). */
  env?: Record<string, string>;
  /** Present the platform variables Azure sets on this hosting plan (over `env` and local.settings.json). */
  platform?: PlatformOptions;
  /** Log sink; default: JSON lines to stderr at 'information' and above when not under test, else nothing. */
  logger?: HostLogger;
  /** Largest accepted request body (default 100 MB, as the real host). */
  maxBodyBytes?: number;
  /** Replace the durable engine (tests). */
  durableEngineFactory?: DurableEngineFactory;
}

export interface HttpRouteInfo {
  name: string;
  template: string;
  methods: string[];
  authLevel: string;
}

export interface Host {
  baseUrl: string;
  /** undefined when keys are disabled. */
  keys: HostKeys | undefined;
  clock: HostClock;
  runtime: LoadedApp;
  durable: DurableEngine;
  stateDir: string;
  routes: HttpRouteInfo[];
  /** Resolved timer schedules by function name. */
  timers: Record<string, string>;
  /** Structured log records at 'information' and above kept in memory (at least the newest 10,000). */
  logs: LogRecord[];
  /** fetch relative to baseUrl. */
  fetch(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  /** Posts events to the Event Grid webhook (with the system key when keys are on). */
  postEventGrid(
    functionName: string,
    events: unknown,
    eventType?: 'Notification' | 'SubscriptionValidation' | 'Unsubscribe',
  ): Promise<Response>;
  /** Durable client over the host's Durable HTTP API (with the system key when keys are on). */
  client: DurableTestClient;
  /** Invokes a timer function now, as the scheduler would (awaits the run). */
  fireTimer(functionName: string, isPastDue?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
}

export interface DurableTestClient {
  /** Starts an orchestration; resolves to its instance id. */
  startNew(orchestrator: string, options?: { input?: unknown; instanceId?: string }): Promise<string>;
  /** undefined for an unknown instance. */
  getStatus(instanceId: string, options?: { showHistory?: boolean; showHistoryOutput?: boolean }): Promise<OrchestrationStatus | undefined>;
  /** Polls until the instance is Completed, Failed, Terminated or Canceled (or throws after timeoutMs real ms). */
  waitForCompletion(instanceId: string, options?: { timeoutMs?: number; showHistory?: boolean }): Promise<OrchestrationStatus>;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<number>;
  terminate(instanceId: string, reason?: string): Promise<number>;
}

const MAX_LOG_RECORDS = 10_000;
const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

function createDurableTestClient(baseUrl: string, systemKey: string | undefined): DurableTestClient {
  const url = (p: string, query: Record<string, string | undefined> = {}) => {
    const u = new URL(`/runtime/webhooks/durabletask/${p}`, baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    if (systemKey) u.searchParams.set('code', systemKey);
    return u;
  };
  const failure = async (what: string, res: Response) => new Error(`${what} failed: HTTP ${res.status} ${await res.text()}`);
  const client: DurableTestClient = {
    async startNew(orchestrator, options = {}) {
      const instancePath = options.instanceId ? `/${encodeURIComponent(options.instanceId)}` : '';
      const path = `orchestrators/${encodeURIComponent(orchestrator)}${instancePath}`;
      const res = await fetch(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(options.input ?? null),
      });
      if (res.status !== 202) throw await failure(`startNew('${orchestrator}')`, res);
      return ((await res.json()) as { id: string }).id;
    },
    async getStatus(instanceId, options = {}) {
      const res = await fetch(
        url(`instances/${encodeURIComponent(instanceId)}`, {
          showHistory: options.showHistory ? 'true' : undefined,
          showHistoryOutput: options.showHistoryOutput ? 'true' : undefined,
        }),
      );
      if (res.status === 404) return undefined;
      if (res.status !== 200 && res.status !== 202) throw await failure(`getStatus('${instanceId}')`, res);
      return (await res.json()) as OrchestrationStatus;
    },
    async waitForCompletion(instanceId, options = {}) {
      const until = Date.now() + (options.timeoutMs ?? 30_000);
      for (;;) {
        const status = await client.getStatus(instanceId, { showHistory: options.showHistory });
        if (status && FINISHED.has(status.runtimeStatus)) return status;
        if (Date.now() > until)
          throw new Error(`Instance '${instanceId}' did not finish in time (status ${status?.runtimeStatus ?? 'unknown'})`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async raiseEvent(instanceId, eventName, data = null) {
      const res = await fetch(url(`instances/${encodeURIComponent(instanceId)}/raiseEvent/${encodeURIComponent(eventName)}`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async terminate(instanceId, reason) {
      const res = await fetch(url(`instances/${encodeURIComponent(instanceId)}/terminate`, { reason }), { method: 'POST' });
      await res.arrayBuffer();
      return res.status;
    },
  };
  return client;
}

export async function startHost(options: StartHostOptions): Promise<Host> {
  const appDir = path.resolve(options.appDir);
  const clock = createRealClock();
  const logs: LogRecord[] = [];
  const sink = options.logger ?? (process.env.VITEST ? undefined : createStructuredLogger({ write: (line) => process.stderr.write(line) }));
  const logger: HostLogger = {
    log(level, category, message, fields) {
      if (level !== 'trace' && level !== 'debug') {
        logs.push({ time: new Date().toISOString(), level, category, message, ...fields });
        // Trim in chunks: per-record splicing would make busy hosts quadratic.
        if (logs.length > 2 * MAX_LOG_RECORDS) logs.splice(0, logs.length - MAX_LOG_RECORDS);
      }
      sink?.log(level, category, message, fields);
    },
  };
  const keys = resolveKeys(options.keys);
  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ? path.resolve(options.stateDir) : fs.mkdtempSync(path.join(os.tmpdir(), 'functions-host-'));
  fs.mkdirSync(stateDir, { recursive: true });

  let durable: DurableEngine | undefined;
  let ready = false;
  let dispatch: ((req: import('./contract').HostHttpRequest) => Promise<import('./contract').HostHttpResponse>) | undefined;
  const server = await startServer({
    port: options.port ?? 7071,
    logger,
    maxBodyBytes: options.maxBodyBytes,
    handle: async (req) =>
      ready && dispatch ? dispatch(req) : { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Host is starting' },
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const cleanup: (() => Promise<void> | void)[] = [() => server.close()];
  if (ownsStateDir) cleanup.push(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  try {
    // getClient() rewrites management URLs to localhost:7071 unless WEBSITE_HOSTNAME names the host.
    const settings = readLocalSettings(appDir);
    const env: Record<string, string> = { ...(options.env ?? {}) };
    if (options.platform) {
      const platform = platformEnvironment(options.platform);
      Object.assign(env, platform.set);
      for (const name of platform.unset) {
        delete env[name];
        delete process.env[name];
        if (name in settings)
          throw new Error(`local.settings.json sets ${name}, which the ${options.platform.plan} platform does not provide`);
      }
    }
    if (!process.env.WEBSITE_HOSTNAME && !env.WEBSITE_HOSTNAME && !settings.WEBSITE_HOSTNAME)
      env.WEBSITE_HOSTNAME = `127.0.0.1:${server.port}`;
    // DurableClient uses axios, which honours HTTP(S)_PROXY: keep loopback calls direct.
    const noProxy = new Set((process.env.NO_PROXY ?? process.env.no_proxy ?? '').split(',').filter(Boolean));
    noProxy.add('127.0.0.1');
    noProxy.add('localhost');
    process.env.NO_PROXY = process.env.no_proxy = [...noProxy].join(',');

    const runtime = await loadFunctionApp({ appDir, logger, env, durableClientInput: () => durable!.clientInputValue() });
    durable = (options.durableEngineFactory ?? createDurableEngine)({
      runtime,
      stateDir,
      hostJson: runtime.hostJson,
      clock,
      baseUrl: () => baseUrl,
      systemKey: keys?.durable,
      logger,
    });
    const engine = durable;
    const dispatcher = createDispatcher({ runtime, keys, durable: () => engine, origin: () => baseUrl, startedAt: Date.now() });
    dispatch = dispatcher.dispatch;
    const timers = createTimerScheduler(runtime, clock, logger, stateDir);

    await engine.start();
    cleanup.unshift(() => engine.stop());
    await runtime.runAppStartHooks();
    cleanup.unshift(() => runtime.runAppTerminateHooks());
    ready = true;
    await timers.start();
    cleanup.unshift(() => timers.stop());
    logger.log('information', 'Host.Startup', `Host started at ${baseUrl}`, { baseUrl, stateDir });

    let stopping: Promise<void> | undefined;
    const host: Host = {
      baseUrl,
      keys,
      clock,
      runtime,
      durable: engine,
      stateDir,
      logs,
      routes: dispatcher.httpRoutes,
      timers: timers.schedules(),
      fetch: (pathAndQuery, init) => fetch(new URL(pathAndQuery, baseUrl), init),
      client: createDurableTestClient(baseUrl, keys?.durable),
      postEventGrid(functionName, events, eventType = 'Notification') {
        const code = keys ? `&code=${encodeURIComponent(keys.eventGrid)}` : '';
        return fetch(`${baseUrl}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(functionName)}${code}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'aeg-event-type': eventType },
          body: JSON.stringify(events),
        });
      },
      async fireTimer(functionName, isPastDue = false) {
        if (runtime.get(functionName)?.trigger.type !== 'timerTrigger') throw new Error(`'${functionName}' is not a timer function`);
        await runtime.invoke(functionName, { triggerData: { json: JSON.stringify(timerPayload(null, isPastDue)) } });
      },
      stop() {
        stopping ??= runCleanup(cleanup, logger);
        return stopping;
      },
    };
    return host;
  } catch (err) {
    await runCleanup(cleanup, logger);
    throw err;
  }
}

async function runCleanup(steps: (() => Promise<void> | void)[], logger: HostLogger): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.log('warning', 'Host.Shutdown', `Shutdown step failed: ${errorMessage(err)}`);
    }
  }
}
