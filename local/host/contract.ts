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

/**
 * Host time: real time, the one clock the app, the Durable store and the Azure simulator share. Durable timers
 * and NCRONTAB schedules fire when real time reaches them; nothing here moves "now".
 */
export interface HostClock {
  /** Epoch ms (Date.now()). */
  now(): number;
  /** Calls `fn` once `ms` of real time has passed (any length: waits beyond setTimeout's ~24.8-day cap re-arm). */
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/** setTimeout caps delays at 2^31-1 ms (~24.8 days); longer waits re-arm until they are due. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function createRealClock(): HostClock {
  const arm = (t: { due: number; fn: () => void; handle?: NodeJS.Timeout }) => {
    t.handle = setTimeout(
      () => {
        if (Date.now() < t.due) return arm(t);
        t.fn();
      },
      Math.min(Math.max(0, t.due - Date.now()), MAX_TIMEOUT_MS),
    );
    t.handle.unref?.();
  };
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      const t: { due: number; fn: () => void; handle?: NodeJS.Timeout } = { due: Date.now() + Math.max(0, ms), fn };
      arm(t);
      return {
        cancel: () => {
          if (t.handle) clearTimeout(t.handle);
        },
      };
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
