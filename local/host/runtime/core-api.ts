/**
 * The `@azure/functions-core` module, provided to the app the way the Node worker does it
 * (azure-functions-nodejs-worker src/setupCoreModule.ts): a `Module.prototype.require` proxy that answers the
 * id `'@azure/functions-core'` with a plain object. The library resolves it lazily and caches the result for the
 * life of the process, so this must be installed before the app's first `app.*` call — and there is one app
 * per process.
 */
import Module from 'node:module';

export type CoreLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type CoreLogCategory = 'user' | 'system' | 'customMetric';
export type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';
const hookNames: readonly HookName[] = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'];

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, { type: string; direction: 'in' | 'out' | 'inout'; [k: string]: unknown }>;
  retryOptions?: unknown;
}
export type CoreFunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: any) => void | Promise<void>;

/** The parts of the library's ProgrammingModel / InvocationModel the host drives. */
export interface CoreInvocationModel {
  getArguments(): Promise<{ context: any; inputs: unknown[] }>;
  invokeFunction(context: any, inputs: unknown[], callback: CoreFunctionCallback): Promise<unknown>;
  getResponse(
    context: any,
    result: unknown,
  ): Promise<{
    invocationId: string;
    outputData?: { name: string; data: any }[];
    returnValue?: any;
  }>;
}
export interface CoreProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: unknown): CoreInvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export interface CoreRegistration {
  metadata: CoreFunctionMetadata;
  functionId: string;
  callback: CoreFunctionCallback;
}

/** Worker version we report; the 4.x library needs a worker >= 3.x. */
const WORKER_VERSION = '3.10.1';
const HOST_VERSION = '4.1037.0';

class Disposable {
  #callback: (() => void) | undefined;
  static from(...inputs: { dispose(): void }[]): Disposable {
    return new Disposable(() => {
      for (const d of inputs) d.dispose();
    });
  }
  constructor(callback: () => void) {
    this.#callback = callback;
  }
  dispose(): void {
    const cb = this.#callback;
    this.#callback = undefined;
    cb?.();
  }
}

export interface CoreState {
  programmingModel: CoreProgrammingModel | undefined;
  functions: Map<string, CoreRegistration>;
  hooks: Record<HookName, HookCallback[]>;
  /** Set once the app is loaded: registrations after that are refused, as the worker refuses them. */
  locked: boolean;
  /** Where `coreApi.log` (system logs from the library) goes. */
  log: (level: CoreLogLevel, category: CoreLogCategory, message: string) => void;
}

const state: CoreState = {
  programmingModel: undefined,
  functions: new Map(),
  hooks: { preInvocation: [], postInvocation: [], appStart: [], appTerminate: [], log: [] },
  locked: false,
  log: () => undefined,
};

export function getCoreState(): CoreState {
  return state;
}

const coreApi = {
  version: WORKER_VERSION,
  get hostVersion() {
    return HOST_VERSION;
  },
  Disposable,
  setProgrammingModel(pm: CoreProgrammingModel): void {
    state.programmingModel = pm;
  },
  getProgrammingModel(): CoreProgrammingModel | undefined {
    return state.programmingModel;
  },
  registerFunction(metadata: CoreFunctionMetadata, callback: CoreFunctionCallback): Disposable {
    if (state.locked) throw new Error('A function can only be registered during app startup.');
    const functionId = metadata.functionId || metadata.name;
    if (!metadata.name) throw new Error('A function must have a name.');
    if (state.functions.has(metadata.name)) {
      throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
    }
    state.functions.set(metadata.name, { metadata, functionId, callback });
    return new Disposable(() => {
      if (state.locked) throw new Error('A function can only be disposed during app startup.');
      state.functions.delete(metadata.name);
    });
  },
  registerHook(hookName: string, callback: HookCallback): Disposable {
    if (!(hookNames as readonly string[]).includes(hookName)) {
      throw new RangeError(`Unrecognized hook "${hookName}"`);
    }
    const list = state.hooks[hookName as HookName];
    list.push(callback);
    return new Disposable(() => {
      const at = list.indexOf(callback);
      if (at >= 0) list.splice(at, 1);
    });
  },
  log(level: CoreLogLevel, category: CoreLogCategory, message: string): void {
    state.log(level, category, message);
  },
};

let installed = false;

/** Installs the require hook (idempotent). Must run before the app — or anything of the app — loads. */
export function installCoreApi(): void {
  if (installed) return;
  installed = true;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: [string]) {
      if (args[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
}
