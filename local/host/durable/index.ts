/**
 * Durable engine for the local host: SQLite-backed orchestrations, activities, timers and entities,
 * driven through the app's own durable-functions library, plus the Durable HTTP API.
 */
import type { DurableEngine, DurableEngineFactory, DurableEngineOptions } from '../contract';
import { DurableDispatcher } from './engine';
import { DurableHttpApi } from './http-api';

export { DurableDispatcher } from './engine';
export { DurableHttpApi, WEBHOOK_PREFIX, RPC_PREFIX } from './http-api';

export interface LocalDurableEngine extends DurableEngine {
  /** The dispatcher (store access, direct client operations) for tests and tools. */
  readonly dispatcher: DurableDispatcher;
}

export const createDurableEngine: DurableEngineFactory = (options: DurableEngineOptions): LocalDurableEngine => {
  const hubName = String(options.hostJson?.extensions?.durableTask?.hubName ?? 'TestHubName');
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
