/**
 * `.state/start.json`: what a running `npm start` tells `npm run demo` and the benchmark — URLs,
 * host keys and the demo principal. Mode 0600 like sim.env, because it carries keys and a client
 * secret; it is removed when the launcher stops.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../../core/errors';

export interface HostKeys {
  master: string;
  function: string;
  eventGrid: string;
  durable: string;
}

export interface DemoPrincipal {
  tenantId: string;
  clientId: string;
  objectId: string;
  clientSecret: string;
}

export interface StartState {
  version: 1;
  launcherPid: number;
  hostPid: number;
  simUrl: string;
  hostUrl: string;
  keys: HostKeys;
  tenantId: string;
  subscriptionId: string;
  /** Object id of the automation principal the app runs as (request-log counts are filtered by it). */
  automationObjectId: string;
  /** The principal that plays "a user creating VMs" (its writes are not the app's own). */
  user: DemoPrincipal;
  /** Speed-up of slow Azure operations in the simulator (the clock is real time). */
  speed: number;
  vaultResourceGroup: string;
  startedAt: string;
}

export const START_STATE_FILE = 'start.json';

export function writeStartState(stateRoot: string, state: StartState): string {
  const file = path.join(stateRoot, START_STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

export function readStartState(stateRoot: string): StartState {
  const file = path.join(stateRoot, START_STATE_FILE);
  if (!existsSync(file)) {
    throw new ValidationError(`No running \`npm start\` found (${file} does not exist). Start it in another terminal first: npm start`, {
      field: 'start.json',
    });
  }
  const state = JSON.parse(readFileSync(file, 'utf8')) as StartState;
  if (state.version !== 1 || !state.hostUrl || !state.simUrl)
    throw new ValidationError(`${file} is not a start.json this version understands; restart npm start`, { field: 'start.json' });
  return state;
}

const USER_FILE = 'demo-user.json';

/** The demo principal of an earlier run (kept across restarts, like the simulator's state), if any. */
export function readSavedUser(stateRoot: string): DemoPrincipal | undefined {
  const file = path.join(stateRoot, USER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const user = JSON.parse(readFileSync(file, 'utf8')) as DemoPrincipal;
    return user.clientId && user.objectId && user.clientSecret && user.tenantId ? user : undefined;
  } catch {
    return undefined;
  }
}

export function saveUser(stateRoot: string, user: DemoPrincipal): void {
  writeFileSync(path.join(stateRoot, USER_FILE), `${JSON.stringify(user, null, 2)}\n`, { mode: 0o600 });
}
