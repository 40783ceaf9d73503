/**
 * Starts the simulator with the Resource Manager and Event Grid parts mounted explicitly (vitest does not
 * resolve the front end's optional require of TypeScript sources) and with short durations, sped up further by
 * the speed-up (the clock stays real time).
 */
import { ClientSecretCredential } from '@azure/identity';
import { createArmService } from '../../../local/azure-sim/arm';
import { createEventGrid } from '../../../local/azure-sim/eventgrid';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, startSimForTest } from '../front/sim-helpers';

export { control } from '../front/sim-helpers';

/** Simulated-ms durations small enough that every LRO is done by its first poll. */
export const FAST_DURATIONS = {
  vmCreate: 2_000,
  vmUpdate: 1_000,
  vmStart: 2_000,
  vmDeallocate: 2_000,
  vmPowerOff: 1_000,
  vmRestart: 2_000,
  vmDelete: 1_000,
  extension: 2_000,
  extensionDelete: 1_000,
  adeWindows: 10_000,
  adeLinuxData: 10_000,
  adeLinuxOs: 60_000,
  resourceGroupDelete: 1_000,
  vaultPurge: 1_000,
  eventSubscription: 500,
};

export async function startArmSim(speed = 100): Promise<{ sim: Simulator; credential: ClientSecretCredential }> {
  const sim = await startSimForTest({ speed, createArm: createArmService, createEventGrid });
  const res = await control(sim, 'PUT', '/_sim/arm/config', { durations: FAST_DURATIONS });
  if (res.status !== 200) throw new Error(`configuring ARM durations failed: ${JSON.stringify(res.body)}`);
  return { sim, credential: new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret) };
}

/** Polling options for SDK pollers: Retry-After from the simulator decides the real interval anyway. */
export const FAST_POLL = { updateIntervalInMs: 50 };

/** Polls `probe` every 25 ms until it returns a value, failing after `timeoutMs` with what was awaited. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
