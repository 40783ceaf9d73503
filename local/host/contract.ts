/**
 * Internal contract between the local host's two halves, so they can be built side by side:
 *
 *  - the runtime (runtime/, server, HTTP/Event Grid/timer triggers, keys, CLI, programmatic API):
 *    provides `@azure/functions-core`, loads the app, owns registration and the invocation path;
 *  - the durable engine (durable/): store, orchestration/activity/entity dispatch, timers, the Durable HTTP API.
 *
 * The host never imports the app's own modules: it loads an app by its folder.
 */

/** RpcTypedData as the worker receives/sends it (one member set). */
export interface RpcTypedData {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  stream?: Uint8Array;
  http?: unknown;
  int?: number | string;
  double?: number;
  collectionBytes?: { bytes: Uint8Array[] };
  collectionString?: { string: string[] };
  collectionDouble?: { double: number[] };
  collectionSint64?: { sint64: (number | string)[] };
}

export interface BindingInfo {
  name: string;
  type: string;
  direction: 'in' | 'out' | 'inout';
  [option: string]: unknown;
}

export interface RegisteredFunction {
  name: string;
  functionId: string;
  /** The trigger binding (direction 'in', type ending in 'Trigger'). */
  trigger: BindingInfo;
  /** All bindings keyed by binding name, including `$return`, exactly as registered. */
  bindings: Record<string, BindingInfo>;
}

export interface InvocationInput {
  /** Trigger data as the worker would receive it, e.g. `{ string: JSON.stringify(orchestratorPayload) }`. */
  triggerData: RpcTypedData;
  /** Extra inputs by binding name. The runtime fills `durableClient` inputs itself from the engine. */
  inputData?: Record<string, RpcTypedData>;
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export interface InvocationResult {
  /** `$return` value, or the handler result for non-HTTP triggers without `$return`. */
  returnValue?: RpcTypedData;
  /** Extra outputs by binding name. */
  outputData: Record<string, RpcTypedData>;
}

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface HostLogger {
  log(level: LogLevel, category: string, message: string, fields?: Record<string, unknown>): void;
}

export interface FunctionRuntime {
  list(): RegisteredFunction[];
  get(name: string): RegisteredFunction | undefined;
  /**
   * Runs one invocation through programming model → invocation model → hooks → response.
   * Rejects with an Error whose message is the function's failure message (as the worker reports it).
   */
  invoke(name: string, input: InvocationInput): Promise<InvocationResult>;
  logger: HostLogger;
}

/** Host time. Scaled so long waits (durable timers, NCRONTAB schedules) pass quickly in tests. */
export interface HostClock {
  /** Simulated epoch ms. */
  now(): number;
  /** Calls `fn` once simulated time has advanced by `ms`. */
  setTimeout(fn: () => void, ms: number): { cancel(): void };
  getScale(): number;
  setScale(scale: number): void;
  /**
   * Moves simulated time forward to `simMs` (never backward); pending timers re-arm. The durable engine calls it on
   * start so a restarted, accelerated host continues from the simulated time its store already reached.
   */
  advanceTo?(simMs: number): void;
}

/** Simple scaled clock: simulated time = start + (real elapsed) × scale, continuous across scale changes. */
export function createScaledClock(scale = 1, startAt = Date.now()): HostClock {
  let baseReal = Date.now();
  let baseSim = startAt;
  let current = scale;
  const timers = new Set<{ due: number; fn: () => void; handle?: NodeJS.Timeout }>();
  const now = () => baseSim + (Date.now() - baseReal) * current;
  const arm = (t: { due: number; fn: () => void; handle?: NodeJS.Timeout }) => {
    if (t.handle) clearTimeout(t.handle);
    const realDelay = Math.max(0, (t.due - now()) / current);
    // setTimeout caps at 2^31-1 ms; re-arm for longer waits.
    t.handle = setTimeout(
      () => {
        if (now() + 1 < t.due) return arm(t);
        timers.delete(t);
        t.fn();
      },
      Math.min(realDelay, 2 ** 31 - 1),
    );
    t.handle.unref?.();
  };
  return {
    now,
    setTimeout(fn, ms) {
      const t = { due: now() + Math.max(0, ms), fn } as { due: number; fn: () => void; handle?: NodeJS.Timeout };
      timers.add(t);
      arm(t);
      return {
        cancel: () => {
          if (t.handle) clearTimeout(t.handle);
          timers.delete(t);
        },
      };
    },
    getScale: () => current,
    advanceTo(simMs) {
      if (!(simMs > now())) return;
      baseSim = simMs;
      baseReal = Date.now();
      for (const t of timers) arm(t);
    },
    setScale(next) {
      if (!(next > 0)) throw new Error(`clock scale must be > 0, got ${next}`);
      baseSim = now();
      baseReal = Date.now();
      current = next;
      for (const t of timers) arm(t);
    },
  };
}

export interface HostHttpRequest {
  method: string;
  /** Path with query, as received, e.g. /runtime/webhooks/durabletask/instances/abc?showHistory=true */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}
export interface HostHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface DurableEngineOptions {
  runtime: FunctionRuntime;
  /** Folder for the durable store (SQLite); created if missing. */
  stateDir: string;
  /** Parsed host.json of the app. */
  hostJson: Record<string, any>;
  clock: HostClock;
  /** e.g. http://127.0.0.1:7071 — known once the server listens. */
  baseUrl(): string;
  /** The durabletask extension system key, when keys are enabled (for `code=` in management URLs). */
  systemKey?: string;
  logger: HostLogger;
}

export interface DurableEngine {
  start(): Promise<void>;
  /** Stops dispatching; in-flight work is abandoned (it resumes from the store on next start). */
  stop(): Promise<void>;
  /** The JSON string the host passes for a `durableClient` input binding. */
  clientInputValue(): string;
  /** Handles /runtime/webhooks/durabletask/** and the client's rpc base path; undefined when the route is not its own. */
  handleHttp(req: HostHttpRequest): Promise<HostHttpResponse | undefined>;
  /** Resolves when no orchestration, activity or entity work is pending or running (timers excluded). */
  idle(): Promise<void>;
}

export type DurableEngineFactory = (options: DurableEngineOptions) => DurableEngine;
