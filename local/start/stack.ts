/**
 * The local stack behind `npm start`: the Azure simulator (in this process), the local Functions host
 * running the built app (a child process), the subscription's events wired to the host through the
 * official Event Grid SDK, and .state/start.json for `npm run demo` and the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { loadConfig } from '../../core/config';
import { startSimulator, writeEnvFile, type Simulator } from '../azure-sim/index';
import { wireSubscriptionEvents, type WiringResult } from './event-wiring';
import { applyTemplateGrants } from './grants';
import { startHostProcess, type HostProcess } from './host-process';
import { readLocalSettingsValues, simulatorAppSettings, type Env } from './settings';
import {
  readSavedUser,
  saveUser,
  START_STATE_FILE,
  writeStartState,
  type DemoPrincipal,
  type HostKeys,
  type StartState,
} from './state-file';
import { trustCertificateAuthority } from './trust';

export const DEMO_RESOURCE_GROUP = 'rg-ade-demo';
const DEMO_USER_NAME = 'ade-autopilot-demo-user';

/**
 * Operation durations for `npm start`. Azure's own figures (the simulator's defaults) except the
 * Linux OS volume, which takes hours in Azure; shortened so a demo finishes. The speed-up divides them
 * further; the clock itself (timestamps, expiries, throttling) is real time.
 */
export const LOCAL_DURATIONS = { adeLinuxOs: 10 * 60_000 };

export interface LocalStackOptions {
  /** The repository root: the app folder the host loads (package.json main, host.json). */
  repoRoot: string;
  /** Folder for sim/, host/, start.json (default <repoRoot>/.state). */
  stateRoot: string;
  /** Host port (7071 by default; 0 picks a free one). */
  hostPort: number;
  /** Simulator port (0 picks a free one). */
  simPort: number;
  /**
   * Speed-up of what Azure makes slow (VM operations, extension and encryption runs, Event Grid retry back-off).
   * It never moves the clock: the simulator, the host and the app all run on real time.
   */
  speed: number;
  localSettingsFile: string;
  /** The environment user overrides come from (process.env). */
  env: Env;
  /** Extra operation durations (Azure ms, before the speed-up) on top of LOCAL_DURATIONS (benchmark, tests). */
  durations?: Record<string, number>;
  hostLogLevel?: string;
  /** Random source of the simulator's fault injection (default Math.random; the chaos benchmark seeds it). */
  faultRandom?: () => number;
  /** Progress lines for the terminal. */
  progress?: (line: string) => void;
}

export interface LocalStack {
  sim: Simulator;
  host: HostProcess;
  state: StartState;
  wiring: WiringResult;
  /** The app settings the host runs with (contain secrets: never print them wholesale). */
  settings: Record<string, string>;
  hostLogFile: string;
  /** SIGKILLs the host (no shutdown hooks, in-flight work lost) and starts it again on the same port and state (benchmarks). */
  killAndRestartHost(): Promise<void>;
  stop(): Promise<void>;
}

function newKey(): string {
  return randomBytes(24).toString('base64url');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function control<T>(sim: Simulator, method: string, urlPath: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sim.url}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Simulator control ${method} ${urlPath} answered ${response.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The demo principal: reused across restarts while the simulator still knows it, else created. */
async function ensureDemoUser(sim: Simulator, stateRoot: string): Promise<DemoPrincipal> {
  const saved = readSavedUser(stateRoot);
  if (saved && saved.tenantId === sim.seed.tenantId) {
    const list = await control<{ value: Array<{ objectId: string; accountEnabled: boolean }> }>(sim, 'GET', '/_sim/principals');
    if (list.value.some((p) => p.objectId === saved.objectId && p.accountEnabled)) return saved;
  }
  const created = await control<DemoPrincipal>(sim, 'POST', '/_sim/principals', { displayName: DEMO_USER_NAME });
  const user = { tenantId: created.tenantId, clientId: created.clientId, objectId: created.objectId, clientSecret: created.clientSecret };
  saveUser(stateRoot, user);
  return user;
}

/**
 * The demo user is the administrator (Owner of the subscription, Graph admin); the app's identity — the principal
 * its AZURE_CLIENT_ID names — gets exactly the template's role assignments and deploy.sh's Graph permission.
 */
async function grantAppTemplateRights(sim: Simulator, user: DemoPrincipal, settings: Record<string, string>, vaultResourceGroup: string) {
  await control(sim, 'POST', '/_sim/arm/roleAssignments', {
    principalId: user.objectId,
    roleName: 'Owner',
    scope: `/subscriptions/${sim.seed.subscriptionId}`,
  });
  await control(sim, 'PUT', `/_sim/principals/${user.objectId}/graphPermissions`, {
    permissions: ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All'],
  });
  const principals = await control<{ value: Array<{ objectId: string; appId: string }> }>(sim, 'GET', '/_sim/principals');
  const app = principals.value.find((p) => p.appId === settings.AZURE_CLIENT_ID);
  if (!app) throw new Error(`The app's AZURE_CLIENT_ID ${settings.AZURE_CLIENT_ID ?? '(unset)'} is no principal of the simulator`);
  if (app.objectId === user.objectId) throw new Error('The app must not run as the demo user (it would hold Owner)');
  await applyTemplateGrants({
    admin: new ClientSecretCredential(user.tenantId, user.clientId, user.clientSecret),
    subscriptionId: sim.seed.subscriptionId,
    appPrincipalId: app.objectId,
    encryptionMode: settings.ADE_ENCRYPTION_MODE ?? 'aad',
    parameters: { vaultResourceGroupName: vaultResourceGroup },
  });
}

/** Variables that belong to the function app (its managed identity endpoint), not to a user's shell. */
const APP_ONLY = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_SIM_MANAGED_IDENTITY_CLIENT_ID'];

/**
 * What `source .state/sim/sim.env` gives a shell: the simulator's proxy and CA, the tenant and subscription, and the
 * demo user's service principal (as `az login --service-principal` or EnvironmentCredential would use it).
 */
export function userShellEnv(simEnv: Record<string, string>, user: DemoPrincipal): Record<string, string> {
  const env: Record<string, string> = {
    ...simEnv,
    AZURE_TENANT_ID: user.tenantId,
    AZURE_CLIENT_ID: user.clientId,
    AZURE_CLIENT_SECRET: user.clientSecret,
  };
  for (const name of APP_ONLY) delete env[name];
  return env;
}

async function registeredFunctions(hostUrl: string, masterKey: string): Promise<string[]> {
  const response = await fetch(`${hostUrl}/admin/functions`, { headers: { 'x-functions-key': masterKey } });
  if (!response.ok) throw new Error(`The host's function list answered ${response.status}`);
  const list = (await response.json()) as Array<{ name: string }>;
  return list.map((f) => f.name);
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const progress = options.progress ?? (() => undefined);
  const simDir = path.join(options.stateRoot, 'sim');
  const hostDir = path.join(options.stateRoot, 'host');
  mkdirSync(simDir, { recursive: true, mode: 0o700 });
  mkdirSync(hostDir, { recursive: true, mode: 0o700 });
  const localValues = readLocalSettingsValues(options.localSettingsFile);

  progress('Starting the Azure simulator…');
  const sim = await startSimulator({
    port: options.simPort,
    stateDir: simDir,
    speed: options.speed,
    ...(options.faultRandom ? { faultRandom: options.faultRandom } : {}),
    log: (level, message, fields) => {
      if (level === 'warn' || level === 'error')
        process.stderr.write(`[azure-sim] ${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
    },
  });
  let host: HostProcess | undefined;
  const stateFile = path.join(options.stateRoot, START_STATE_FILE);
  const stop = async () => {
    rmSync(stateFile, { force: true });
    if (host) await host.stop();
    await sim.stop();
  };
  try {
    // This process talks to the simulator too (Event Grid wiring), through the same proxy and CA a shell with sim.env uses.
    trustCertificateAuthority(sim.caCertPath);
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) if (sim.env[name]) process.env[name] = sim.env[name];
    if (!sim.mounted.arm || !sim.mounted.eventgrid)
      throw new Error('The simulator started without its Resource Manager or Event Grid part');

    await control(sim, 'PATCH', '/_sim/arm/config', { durations: { ...LOCAL_DURATIONS, ...(options.durations ?? {}) } });
    const user = await ensureDemoUser(sim, options.stateRoot);
    // The shell environment is the demo user's: VMs a user creates from it are a user's writes, which the app acts on.
    // The automation's credentials (sim.env of the simulator) go to the host process only, never into a file.
    writeEnvFile(path.join(simDir, 'sim.env'), userShellEnv(sim.env, user));

    const hostPort = options.hostPort === 0 ? await freePort() : options.hostPort;
    const hostUrl = `http://127.0.0.1:${hostPort}`;
    const keys: HostKeys = { master: newKey(), function: newKey(), eventGrid: newKey(), durable: newKey() };
    const settings = simulatorAppSettings({
      localValues,
      env: options.env,
      simEnv: sim.env,
      subscriptionId: sim.seed.subscriptionId,
      hostUrl,
      eventGridKey: keys.eventGrid,
    });
    const config = loadConfig(settings); // the app would refuse to start with a ConfigError; say so before spawning it
    for (const rg of [config.vaultResourceGroup, DEMO_RESOURCE_GROUP]) {
      await control(sim, 'PUT', `/_sim/arm/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${encodeURIComponent(rg)}`, {
        location: 'westeurope',
      });
    }

    progress("Granting the app's identity exactly what infra/main.json and infra/deploy.sh grant…");
    await grantAppTemplateRights(sim, user, settings, config.vaultResourceGroup);

    progress('Starting the local Functions host on the built app…');
    const hostLogFile = path.join(options.stateRoot, 'host.log');
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v;
    Object.assign(childEnv, settings, {
      FUNCTIONS_HOST_MASTER_KEY: keys.master,
      FUNCTIONS_HOST_FUNCTION_KEY: keys.function,
      FUNCTIONS_HOST_EVENTGRID_KEY: keys.eventGrid,
      FUNCTIONS_HOST_DURABLE_KEY: keys.durable,
    });
    const hostOptions = {
      cliPath: path.join(options.repoRoot, 'dist/local/host/cli.js'),
      appDir: options.repoRoot,
      port: hostPort,
      stateDir: hostDir,
      env: childEnv,
      logFile: hostLogFile,
      ...(options.hostLogLevel ? { logLevel: options.hostLogLevel } : {}),
    };
    host = await startHostProcess(hostOptions);

    progress("Wiring the subscription's events to the host (Event Grid system topic + subscriptions)…");
    const functions = await registeredFunctions(host.baseUrl, keys.master);
    const wiring = await wireSubscriptionEvents({
      credential: new ClientSecretCredential(user.tenantId, user.clientId, user.clientSecret),
      subscriptionId: sim.seed.subscriptionId,
      resourceGroup: config.vaultResourceGroup,
      hostUrl: host.baseUrl,
      eventGridKey: keys.eventGrid,
      registeredFunctions: functions,
      routeConfiguration: { policyDefinitionIds: config.remediation.policyDefinitionIds, vaultResourceGroup: config.vaultResourceGroup },
    });

    const state: StartState = {
      version: 1,
      launcherPid: process.pid,
      hostPid: host.pid,
      simUrl: sim.url,
      hostUrl: host.baseUrl,
      keys,
      tenantId: sim.seed.tenantId,
      subscriptionId: sim.seed.subscriptionId,
      automationObjectId: sim.seed.clientObjectId,
      user,
      speed: options.speed,
      vaultResourceGroup: config.vaultResourceGroup,
      startedAt: new Date().toISOString(),
    };
    writeStartState(options.stateRoot, state);
    const stack: LocalStack = {
      sim,
      host,
      state,
      wiring,
      settings,
      hostLogFile,
      stop,
      async killAndRestartHost() {
        const current = host!;
        process.kill(current.pid, 'SIGKILL');
        await current.exited;
        host = await startHostProcess(hostOptions);
        stack.host = host;
      },
    };
    return stack;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
