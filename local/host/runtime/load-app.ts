/**
 * Loads a Node v4-model Functions app from its folder and runs invocations through the app's own
 * `@azure/functions` programming model — the same path the Node worker takes
 * (worker src/eventHandlers/InvocationHandler.ts): getInvocationModel → getArguments → preInvocation hooks →
 * invokeFunction → postInvocation hooks → getResponse.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type {
  BindingInfo,
  FunctionRuntime,
  HostLogger,
  InvocationInput,
  InvocationResult,
  LogLevel,
  RegisteredFunction,
  RpcTypedData,
} from '../contract';
import { AppLoadError, readAppPackage, readHostJson, readLocalSettings, resolveEntryPoints } from './app-files';
import { getCoreState, installCoreApi, type CoreLogLevel, type CoreRegistration, type HookName } from './core-api';
import { installOtelLogs, withInvocationLogs } from './otel-logs';

export { AppLoadError } from './app-files';

export interface LoadedApp extends FunctionRuntime {
  hostJson: Record<string, any>;
  appDir: string;
  runAppStartHooks(): Promise<void>;
  runAppTerminateHooks(): Promise<void>;
}

export interface LoadFunctionAppOptions {
  appDir: string;
  logger: HostLogger;
  /** The JSON string given to `durableClient` inputs; without it such inputs fail at invocation. */
  durableClientInput?: () => string;
  /** Extra environment (applied after local.settings.json Values, before the app loads). */
  env?: Record<string, string>;
  /** Accept triggers and inputs the host cannot serve (they can still be invoked directly). Default false. */
  allowUnsupportedBindings?: boolean;
}

/** Triggers the host serves (HTTP, Event Grid, timer; Durable through the engine; the rest only by hand is refused). */
export const SUPPORTED_TRIGGERS = new Set([
  'httpTrigger',
  'timerTrigger',
  'eventGridTrigger',
  'orchestrationTrigger',
  'activityTrigger',
  'entityTrigger',
  'warmupTrigger',
]);
/** Extra inputs the host can fill. */
export const SUPPORTED_INPUTS = new Set(['durableClient', 'orchestrationClient']);

const durableClientTypes = SUPPORTED_INPUTS;

// TypeScript compiles `import()` to `require()` under CommonJS; ESM apps need the real thing.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loadedOnce = false;

export async function loadFunctionApp(options: LoadFunctionAppOptions): Promise<LoadedApp> {
  if (loadedOnce) {
    throw new AppLoadError(
      'An app is already loaded in this process: @azure/functions-core is process-global, so host one app per process.',
    );
  }
  loadedOnce = true;
  const appDir = path.resolve(options.appDir);
  const logger = options.logger;
  const hostJson = readHostJson(appDir);
  const pkg = readAppPackage(appDir);
  const settings = readLocalSettings(appDir);
  // The real host does not override variables already set in the environment.
  for (const [key, value] of Object.entries(settings)) if (process.env[key] === undefined) process.env[key] = value;
  for (const [key, value] of Object.entries(options.env ?? {})) process.env[key] = value;

  const core = getCoreState();
  core.log = (level, category, message) => emitLog(logger, core.hooks.log, level, category, message, undefined);
  installOtelLogs(logger);
  installCoreApi();

  const entryPoints = resolveEntryPoints(appDir, pkg.main);
  const appRequire = Module.createRequire(path.join(appDir, 'package.json'));
  for (const file of entryPoints) {
    try {
      if (file.endsWith('.mjs') || (pkg.isModule && !file.endsWith('.cjs'))) await nativeImport(pathToFileURL(file).href);
      else appRequire(file);
    } catch (err) {
      // On Node 20+ the worker blocks the app when an entry point throws.
      throw new AppLoadError(`Worker was unable to load entry point "${path.relative(appDir, file)}": ${errorMessage(err)}`);
    }
  }
  core.locked = true;

  const pm = core.programmingModel;
  if (!pm) {
    throw new AppLoadError(
      `No programming model was set by ${appDir}: the app registered nothing through @azure/functions v4 ` +
        `(is it a v3 function.json app, or does it import a second copy of the library that loaded before ` +
        `the host?).`,
    );
  }
  if (pm.getCapabilities) {
    const capabilities = await pm.getCapabilities({});
    if (capabilities.HttpUri) {
      throw new AppLoadError(
        'The app enables HTTP streaming (app.setup({ enableHttpStream: true })); this host does not implement the streaming proxy.',
      );
    }
  }

  const functions = new Map<string, { registered: RegisteredFunction; core: CoreRegistration }>();
  for (const registration of core.functions.values()) {
    const registered = toRegisteredFunction(registration);
    if (!options.allowUnsupportedBindings) assertSupported(registered);
    functions.set(registered.name, { registered, core: registration });
  }
  logger.log('information', 'Host.Startup', `Loaded ${functions.size} function(s) from ${appDir}`, {
    functions: [...functions.keys()],
    entryPoints: entryPoints.map((f) => path.relative(appDir, f)),
  });

  const appHookData: Record<string, unknown> = {};
  const runAppHooks = async (name: HookName) => {
    for (const hook of [...core.hooks[name]]) await hook({ hookData: appHookData, appHookData, functionAppDirectory: appDir });
  };

  function invoke(name: string, input: InvocationInput): Promise<InvocationResult> {
    const invocationId = randomUUID();
    // OpenTelemetry log records the invocation emits are written to this host's log as that invocation's (otel-logs.ts).
    return withInvocationLogs({ logger, functionName: name, invocationId }, () => invokeAs(name, input, invocationId));
  }

  async function invokeAs(name: string, input: InvocationInput, invocationId: string): Promise<InvocationResult> {
    const entry = functions.get(name);
    if (!entry) throw new Error(`Function '${name}' is not registered in this app`);
    const { registered, core: registration } = entry;
    const started = performance.now();

    const inputData: { name: string; data: RpcTypedData }[] = [{ name: registered.trigger.name, data: input.triggerData }];
    for (const [bindingName, data] of Object.entries(input.inputData ?? {})) inputData.push({ name: bindingName, data });
    for (const [bindingName, binding] of Object.entries(registered.bindings)) {
      if (binding.direction !== 'in' || !durableClientTypes.has(binding.type) || input.inputData?.[bindingName]) continue;
      if (!options.durableClientInput) throw new Error(`Function '${name}' has a ${binding.type} input but the host has no durable engine`);
      inputData.push({ name: bindingName, data: { string: options.durableClientInput() } });
    }

    const current = { invocationContext: undefined as unknown };
    const coreCtx = {
      invocationId,
      state: undefined as undefined | 'preInvocationHooks' | 'invocation' | 'postInvocationHooks',
      metadata: { ...registration.metadata, name, functionId: registration.functionId, bindings: registration.metadata.bindings },
      request: {
        invocationId,
        functionId: registration.functionId,
        inputData,
        triggerMetadata: input.triggerMetadata ?? {},
        traceContext: {
          traceParent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`,
          traceState: '',
          attributes: {},
        },
        retryContext: input.retryContext ? { ...input.retryContext } : undefined,
      },
      log: (level: CoreLogLevel, category: 'user' | 'system' | 'customMetric', message: string) =>
        emitLog(logger, core.hooks.log, level, category, message, {
          functionName: name,
          invocationId,
          invocationContext: current.invocationContext,
        }),
    };

    const model = pm!.getInvocationModel(coreCtx);
    const args = await model.getArguments();
    current.invocationContext = args.context;
    let inputs = args.inputs;
    let callback = registration.callback;
    const hookData: Record<string, unknown> = {};

    coreCtx.state = 'preInvocationHooks';
    const pre = { hookData, appHookData, invocationContext: args.context, inputs, functionCallback: callback };
    for (const hook of [...core.hooks.preInvocation]) await hook(pre);
    inputs = pre.inputs;
    callback = pre.functionCallback;

    coreCtx.state = 'invocation';
    let result: unknown;
    let error: unknown;
    try {
      result = await model.invokeFunction(args.context, inputs, callback);
    } catch (err) {
      error = err;
    }

    coreCtx.state = 'postInvocationHooks';
    const post = { hookData, appHookData, invocationContext: args.context, inputs, result, error };
    for (const hook of [...core.hooks.postInvocation]) await hook(post);
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    if (post.error !== undefined && post.error !== null) {
      const message = errorMessage(post.error);
      logger.log('error', `Function.${name}`, `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${durationMs}ms)`, {
        functionName: name,
        invocationId,
        durationMs,
        error: message,
      });
      const failure = new Error(message);
      if (post.error instanceof Error && post.error.stack) failure.stack = post.error.stack;
      throw failure;
    }

    const response = await model.getResponse(args.context, post.result);
    logger.log('debug', `Function.${name}`, `Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${durationMs}ms)`, {
      functionName: name,
      invocationId,
      durationMs,
    });
    const outputData: Record<string, RpcTypedData> = {};
    for (const output of response.outputData ?? []) outputData[output.name] = output.data;
    return response.returnValue === undefined || response.returnValue === null
      ? { outputData }
      : { returnValue: response.returnValue, outputData };
  }

  return {
    appDir,
    hostJson,
    logger,
    list: () => [...functions.values()].map((f) => f.registered),
    get: (name) => functions.get(name)?.registered,
    invoke,
    runAppStartHooks: () => runAppHooks('appStart'),
    runAppTerminateHooks: () => runAppHooks('appTerminate'),
  };
}

function toRegisteredFunction(registration: CoreRegistration): RegisteredFunction {
  const bindings: Record<string, BindingInfo> = {};
  let trigger: BindingInfo | undefined;
  for (const [bindingName, raw] of Object.entries(registration.metadata.bindings)) {
    const binding = { ...raw, name: bindingName === '$return' ? String(raw.name ?? '$return') : bindingName } as BindingInfo;
    bindings[bindingName] = binding;
    if (binding.direction === 'in' && /trigger$/i.test(binding.type)) {
      if (trigger) throw new AppLoadError(`Function '${registration.metadata.name}' has more than one trigger binding`);
      trigger = { ...binding, name: bindingName };
    }
  }
  if (!trigger) throw new AppLoadError(`Function '${registration.metadata.name}' has no trigger binding`);
  return { name: registration.metadata.name, functionId: registration.functionId, trigger, bindings };
}

function assertSupported(fn: RegisteredFunction): void {
  if (!SUPPORTED_TRIGGERS.has(fn.trigger.type)) {
    throw new AppLoadError(
      `Function '${fn.name}': trigger type '${fn.trigger.type}' is not supported by the local host ` +
        `(supported: ${[...SUPPORTED_TRIGGERS].join(', ')}).`,
    );
  }
  for (const [bindingName, binding] of Object.entries(fn.bindings)) {
    if (binding.direction === 'in' && bindingName !== fn.trigger.name && !SUPPORTED_INPUTS.has(binding.type)) {
      throw new AppLoadError(
        `Function '${fn.name}': input binding '${bindingName}' of type '${binding.type}' is not supported by ` +
          `the local host (supported inputs: ${[...SUPPORTED_INPUTS].join(', ')}).`,
      );
    }
  }
}

const coreToHostLevel: Record<string, LogLevel | undefined> = {
  trace: 'trace',
  debug: 'debug',
  information: 'information',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
};

function emitLog(
  logger: HostLogger,
  hooks: ((ctx: any) => unknown)[],
  level: CoreLogLevel,
  category: 'user' | 'system' | 'customMetric',
  message: string,
  invocation: { functionName: string; invocationId: string; invocationContext: unknown } | undefined,
): void {
  const ctx = { level, message, category, invocationContext: invocation?.invocationContext, hookData: {} };
  for (const hook of hooks) {
    // Log hooks are synchronous in the worker; a returned promise is not awaited, but its failure is reported.
    const report = (err: unknown) => logger.log('error', 'Host.LogHook', `A log hook threw: ${errorMessage(err)}`);
    try {
      const returned = hook(ctx) as { then?: unknown; catch?: (f: (e: unknown) => void) => void } | undefined;
      if (returned && typeof returned.then === 'function') returned.catch?.(report);
    } catch (err) {
      report(err);
    }
  }
  const hostLevel = coreToHostLevel[ctx.level];
  if (!hostLevel) return; // 'none'
  const hostCategory = invocation
    ? `Function.${invocation.functionName}${category === 'user' ? '.User' : ''}`
    : category === 'user'
      ? 'Host.User'
      : 'Host.Worker';
  logger.log(
    hostLevel,
    hostCategory,
    ctx.message,
    invocation
      ? { functionName: invocation.functionName, invocationId: invocation.invocationId, logCategory: category }
      : { logCategory: category },
  );
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string')
    return (err as { message: string }).message;
  try {
    return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    return String(err);
  }
}
