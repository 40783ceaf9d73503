/**
 * Durable engine for the local host: SQLite-backed orchestrations, activities, timers and entities,
 * driven through the app's own durable-functions library, plus the Durable HTTP API.
 */
import type { DurableEngine, DurableEngineFactory, DurableEngineOptions } from '../contract';
import { durableBackendOf } from './backend';
import { DurableDispatcher } from './engine';
import { DurableHttpApi } from './http-api';

export { DurableDispatcher } from './engine';
export { durableBackendOf, DurableBackendError, type DurableBackend } from './backend';
export { DurableHttpApi, WEBHOOK_PREFIX, RPC_PREFIX } from './http-api';

export interface LocalDurableEngine extends DurableEngine {
  /** The dispatcher (store access, direct client operations) for tests and tools. */
  readonly dispatcher: DurableDispatcher;
}

export const createDurableEngine: DurableEngineFactory = (options: DurableEngineOptions): LocalDurableEngine => {
  // The app's settings are in process.env once the app is loaded (local.settings.json and the host's env).
  const backend = durableBackendOf(options.hostJson?.extensions?.durableTask, process.env);
  const hubName = backend.hubName;
  if (backend.provider === 'azureManaged')
    options.logger.log(
      'information',
      'Host.Triggers.DurableTask',
      `host.json names the Durable Task Scheduler (${backend.endpoint}, task hub ${hubName}); the local host keeps ` +
        'orchestration state in its own SQLite store and never calls the scheduler',
      { provider: backend.provider, hubName },
    );
  let dispatcher: DurableDispatcher | undefined;
  let api: DurableHttpApi | undefined;
  const ensure = () => {
    if (!dispatcher) {
      dispatcher = new DurableDispatcher(options);
      api = new DurableHttpApi({ dispatcher, baseUrl: options.baseUrl, hubName, systemKey: options.systemKey });
    }
    return { dispatcher, api: api! };
  };
  return {
    get dispatcher() {
      return ensure().dispatcher;
    },
    async start() {
      ensure().dispatcher.start();
    },
    async stop() {
      dispatcher?.stop();
      dispatcher = undefined;
      api = undefined;
    },
    clientInputValue() {
      return ensure().api.clientInputValue();
    },
    async handleHttp(req) {
      return ensure().api.handle(req);
    },
    idle() {
      return dispatcher ? dispatcher.idle() : Promise.resolve();
    },
  };
};
