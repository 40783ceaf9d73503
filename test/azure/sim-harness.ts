/**
 * Starts the Azure simulator for adapter tests and points THIS test process at it: proxy and
 * credentials from `sim.env`, and trust in the simulator's CA.
 *
 * Node reads NODE_EXTRA_CA_CERTS only at process start, so inside an already running vitest worker
 * the CA is added to every default TLS context instead (the in-process equivalent; both the Azure
 * SDK proxy agent and undici go through tls.createSecureContext). Everything is undone in stop().
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { createArmService } from '../../local/azure-sim/arm/index';
import { createEventGrid } from '../../local/azure-sim/eventgrid/index';
import { startSimulator, type Simulator } from '../../local/azure-sim/index';
import type { RequestLogEntry } from '../../local/azure-sim/front/request-log';
import { resetProxyDispatcher } from '../../azure/proxy-fetch';

export type { RequestLogEntry } from '../../local/azure-sim/front/request-log';

export interface SimHarness {
  sim: Simulator;
  /** Sets every simulated Resource Manager / ADE operation to take `ms` (before the speed-up), so tests wait little. */
  fastDurations(ms?: number): Promise<void>;
  /** Request-log entries since `sinceSeq` (exclusive). */
  requests(filter?: { service?: string; operation?: string; sinceSeq?: number }): Promise<{ lastSeq: number; value: RequestLogEntry[] }>;
  /** Calls the control API (loopback, no proxy). Throws on HTTP errors with the body in the message. */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startSimHarness(options: { speed?: number } = {}): Promise<SimHarness> {
  // The simulator loads its Resource Manager / Event Grid parts with a runtime require(), which
  // cannot load TypeScript under vitest; hand them over explicitly.
  const sim = await startSimulator({
    speed: options.speed ?? 1,
    log: () => undefined,
    createArm: createArmService,
    createEventGrid,
  });
  const savedEnv = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(sim.env)) {
    savedEnv.set(k, process.env[k]);
    process.env[k] = v;
  }
  await resetProxyDispatcher();

  const caPem = readFileSync(sim.caCertPath, 'utf8');
  const original = tls.createSecureContext;
  const patched: typeof tls.createSecureContext = (opts) => {
    const context = original(opts);
    if (!opts?.ca) (context.context as { addCACert(pem: string): void }).addCACert(caPem);
    return context;
  };
  tls.createSecureContext = patched;

  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`control ${method} ${path} → ${response.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const durationNames = [
    'vmCreate',
    'vmUpdate',
    'vmStart',
    'vmDeallocate',
    'vmPowerOff',
    'vmRestart',
    'vmDelete',
    'extension',
    'extensionDelete',
    'adeWindows',
    'adeLinuxData',
    'adeLinuxOs',
    'resourceGroupDelete',
    'vaultPurge',
    'eventSubscription',
  ];

  return {
    sim,
    control,
    async fastDurations(ms = 200) {
      await control('PATCH', '/_sim/arm/config', { durations: Object.fromEntries(durationNames.map((n) => [n, ms])) });
    },
    async requests(filter = {}) {
      const q = new URLSearchParams();
      if (filter.service) q.set('service', filter.service);
      if (filter.operation) q.set('operation', filter.operation);
      if (filter.sinceSeq !== undefined) q.set('since', String(filter.sinceSeq));
      return control('GET', `/_sim/requests?${q.toString()}`);
    },
    async stop() {
      tls.createSecureContext = original;
      await resetProxyDispatcher();
      for (const [k, v] of savedEnv) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await sim.stop();
    },
  };
}
