/**
 * The Azure simulator: one loopback process that is an HTTPS proxy for Azure's real host names
 * (TLS terminated with its own CA) and a control API. `startSimulator` is the programmatic entry;
 * `cli.ts` wraps it for `npm run sim`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  DispatchRequest,
  DispatchResponse,
  EventBus,
  GridEvent,
  Service,
  SimContext,
  SimRequest,
  SimResponse,
  VaultDirectory,
  VaultRecord,
} from './contract';
import { SimError } from './contract';
import { CertificateAuthority } from './front/ca';
import { RealClock } from './front/clock';
import { FaultInjector } from './front/faults';
import { Pipeline } from './front/pipeline';
import { RequestLog } from './front/request-log';
import { SimServer } from './front/server';
import { SimState, StateFile } from './front/state';
import { TokenIssuer } from './front/tokens';
import { Control } from './front/control';
import { EntraDirectory, type ServicePrincipal } from './entra/directory';
import { LoginService, ManagedIdentityService } from './entra/login';
import { KeyVaultService } from './keyvault/service';
import { GraphService } from './graph/service';
import { loadParts, type ArmService, type EventGridParts } from './front/parts';

export type { ArmService, EventGridParts } from './front/parts';

export interface SimulatorOptions {
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  /** Folder for the CA, signing keys, state.json and sim.env; a temporary folder (removed on stop) when omitted. */
  stateDir?: string;
  /**
   * Speed-up of what Azure makes slow (VM operations, extension and encryption runs, Event Grid retry
   * back-off); default 1 = Azure's pace. The clock itself is always real time.
   */
  speed?: number;
  /** Override how the Resource Manager part is created (default: local/azure-sim/arm); null leaves it out. */
  createArm?: ((ctx: SimContext) => ArmService) | null;
  /** Override how Event Grid is created (default: local/azure-sim/eventgrid); null leaves it out. */
  createEventGrid?: ((ctx: SimContext) => EventGridParts) | null;
  /** Debug log sink (default: warnings and errors to stderr). */
  log?: SimContext['log'];
  /** Random source of fault injection's error rates (default Math.random); a seeded one makes a benchmark reproducible. */
  faultRandom?: () => number;
}

/** The seeded tenant, subscription and principals a fresh shell or test uses. */
export interface SimSeed {
  tenantId: string;
  subscriptionId: string;
  /** The automation service principal (client secret credential). */
  clientId: string;
  clientObjectId: string;
  clientSecret: string;
  /** The function app's system-assigned managed identity. */
  managedIdentityClientId: string;
  managedIdentityObjectId: string;
  identityEndpoint: string;
  identityHeader: string;
}

export interface Simulator {
  /** http://127.0.0.1:<port> — the proxy URL and the control API base. */
  url: string;
  port: number;
  /** Environment a client needs: proxy, CA trust, NO_PROXY, tenant/subscription/credentials, managed identity. */
  env: Record<string, string>;
  caCertPath: string;
  ctx: SimContext;
  seed: SimSeed;
  /** True when the Resource Manager / Event Grid parts are mounted. */
  mounted: { arm: boolean; eventgrid: boolean };
  stop(): Promise<void>;
}

const MI_PATH = '/msi/token';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const ownsStateDir = !options.stateDir;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'azure-sim-'));
  const log: SimContext['log'] =
    options.log ??
    ((level, message, fields) => {
      if (level === 'warn' || level === 'error')
        process.stderr.write(`[azure-sim] ${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
    });
  const keyDir = options.stateDir ? join(stateDir, 'ca') : sharedEphemeralKeyDir();
  const ca = CertificateAuthority.openOrCreate(keyDir);
  const tokens = new TokenIssuer(keyDir);
  const clock = new RealClock(options.speed ?? 1);
  const state = new SimState();
  const stateFile = new StateFile(stateDir);
  const requestLog = new RequestLog();
  const faults = new FaultInjector(options.faultRandom);
  const directory = new EntraDirectory(randomUUID(), () => clock.now());
  const seedState = { subscriptionId: randomUUID(), managedIdentityObjectId: '', automationAppId: '', seedCredentialKeyId: '' };

  const pipeline = new Pipeline({
    clock,
    tokens,
    faults,
    log: requestLog,
    tenantId: () => directory.tenantId,
    knownTenant: (tid) => tid.toLowerCase() === directory.tenantId.toLowerCase(),
    debug: log,
  });

  const notMounted = (part: string) => () => {
    throw new SimError(501, 'NotMounted', `The simulator's ${part} part is not mounted.`);
  };
  const ctx: SimContext = {
    clock,
    state,
    directory,
    vaults: { findVault: () => undefined },
    keyVaultPlatform: {
      setSecretAsPlatform: notMounted('Key Vault'),
      getSecretAsPlatform: notMounted('Key Vault'),
      wrapKeyAsPlatform: notMounted('Key Vault'),
      unwrapKeyAsPlatform: notMounted('Key Vault'),
    },
    events: { publish: () => undefined },
    dispatch: (req) => dispatch(pipeline, req),
    log,
  };

  state.register('entra', directory);
  state.register('seed', {
    snapshot: () => ({ ...seedState }),
    restore: (v) => Object.assign(seedState, v as typeof seedState),
    reset: () => undefined,
  });

  const identityHeader = randomBytes(24).toString('hex');
  const systemAssigned = (): ServicePrincipal | undefined => directory.servicePrincipals.get(seedState.managedIdentityObjectId);
  let armMounted = false;
  const keyVault = new KeyVaultService(ctx, () => armMounted);
  ctx.keyVaultPlatform = keyVault;
  pipeline.mount(new LoginService(directory, tokens, clock));
  pipeline.mount(keyVault);
  const graph = new GraphService(ctx, directory);
  pipeline.mount(graph);
  pipeline.mount(new ManagedIdentityService(directory, tokens, identityHeader, systemAssigned));

  const parts = loadParts(ctx, { createArm: options.createArm, createEventGrid: options.createEventGrid });
  if (parts.arm) {
    const arm = parts.arm;
    armMounted = true;
    ctx.vaults = { findVault: (name: string): VaultRecord | undefined => arm.findVault(name) } satisfies VaultDirectory;
    pipeline.mount(arm);
  } else {
    pipeline.mount(notMountedService('arm', 'Resource Manager (local/azure-sim/arm)', (host) => host === 'management.azure.com'));
  }
  if (parts.eventgrid) {
    const bus: EventBus = parts.eventgrid.bus;
    ctx.events = { publish: (source: string, events: GridEvent[]) => bus.publish(source, events) };
    pipeline.mount(parts.eventgrid.dataService);
  } else {
    pipeline.mount(
      notMountedService('eventgrid', 'Event Grid (local/azure-sim/eventgrid)', (host) =>
        /^[a-z0-9-]+\.[a-z0-9]+-1\.eventgrid\.azure\.net$/.test(host),
      ),
    );
  }

  // Restore persisted state, then make sure the seeded principals exist.
  const persisted = stateFile.load();
  if (persisted) state.restore(persisted);
  const seedSecret = ensureSeed(directory, seedState);

  const control: Control = new Control({
    clock,
    state,
    stateFile,
    requestLog,
    faults,
    directory,
    keyVault,
    graph,
    arm: parts.arm,
    seed: () => seedView(),
    env: () => env,
    baseline: () => baseline,
    serverStats: (): Record<string, number> => ({ ...server.stats }),
    mounted: () => ({ arm: Boolean(parts.arm), eventgrid: Boolean(parts.eventgrid), keyvault: true, graph: true, login: true }),
  });
  const server: SimServer = new SimServer({
    ca,
    pipeline,
    control,
    managedIdentityHost: ManagedIdentityService.HOST,
    managedIdentityPath: MI_PATH,
    isSimulatedHost: (host) => pipeline.serviceFor(host) !== undefined && host !== ManagedIdentityService.HOST,
    log,
  });
  const port = await server.listen(options.port ?? 0);
  const url = `http://127.0.0.1:${port}`;
  const identityEndpoint = `${url}${MI_PATH}`;
  const seedView = (): SimSeed => ({
    tenantId: directory.tenantId,
    subscriptionId: seedState.subscriptionId,
    clientId: seedState.automationAppId,
    clientObjectId: directory.servicePrincipalByAppId(seedState.automationAppId)?.id ?? '',
    clientSecret: seedSecret,
    managedIdentityClientId: systemAssigned()?.appId ?? '',
    managedIdentityObjectId: seedState.managedIdentityObjectId,
    identityEndpoint,
    identityHeader,
  });
  const seed = seedView();
  if (parts.arm) await seedArm(parts.arm, seed, log);
  // `reset` returns to this: the seeded tenant, principals and subscription.
  const baseline = state.snapshot();
  const env: Record<string, string> = {
    HTTPS_PROXY: url,
    https_proxy: url,
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
    NODE_EXTRA_CA_CERTS: ca.certPath,
    REQUESTS_CA_BUNDLE: ca.certPath,
    SSL_CERT_FILE: ca.certPath,
    AZURE_TENANT_ID: seed.tenantId,
    AZURE_CLIENT_ID: seed.clientId,
    AZURE_CLIENT_SECRET: seed.clientSecret,
    AZURE_SUBSCRIPTION_ID: seed.subscriptionId,
    IDENTITY_ENDPOINT: identityEndpoint,
    IDENTITY_HEADER: identityHeader,
    AZURE_SIM_URL: url,
    AZURE_SIM_MANAGED_IDENTITY_CLIENT_ID: seed.managedIdentityClientId,
  };

  let stopped = false;
  return {
    url,
    port,
    env,
    caCertPath: ca.certPath,
    ctx,
    seed,
    mounted: { arm: Boolean(parts.arm), eventgrid: Boolean(parts.eventgrid) },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      clock.releaseAll();
      parts.stop?.();
      if (ownsStateDir) rmSync(stateDir, { recursive: true, force: true });
      else stateFile.save(state.snapshot());
    },
  };
}

/**
 * Without --state, the CA and signing keys come from one per-user folder under the OS temp dir, so
 * tests that start many simulators pay for RSA key generation once. Created in a private folder and
 * renamed into place, so concurrent starts never see a half-written key pair.
 */
function sharedEphemeralKeyDir(): string {
  const dir = join(tmpdir(), `azure-sim-ephemeral-keys-${process.getuid?.() ?? 'user'}`);
  const complete = () => ['ca.crt', 'ca.key', 'leaf.key', 'token-signing.key'].every((f) => existsSync(join(dir, f)));
  if (complete()) return dir;
  const staging = mkdtempSync(`${dir}.staging-`);
  CertificateAuthority.openOrCreate(staging);
  new TokenIssuer(staging);
  try {
    if (existsSync(dir) && !complete()) rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } catch {
    // Another process won the race; use its keys.
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/** Seeds the automation service principal and the function app's managed identity (idempotent). */
function ensureSeed(
  directory: EntraDirectory,
  seed: { managedIdentityObjectId: string; automationAppId: string; seedCredentialKeyId: string },
): string {
  let app = seed.automationAppId ? directory.applicationByAppId(seed.automationAppId) : undefined;
  if (!app) {
    app = directory.createApplication('ade-autopilot-automation');
    seed.automationAppId = app.appId;
  }
  if (!directory.servicePrincipalByAppId(app.appId)) directory.createServicePrincipal(app);
  // The tenant's Microsoft Graph service principal, and the automation principal as the tenant's app administrator
  // (it grants permissions to others, as the person running infra/deploy.sh would).
  directory.ensureGraphServicePrincipal();
  directory.grantGraphPermissions(directory.servicePrincipalByAppId(app.appId)!.id, [
    'Application.ReadWrite.All',
    'AppRoleAssignment.ReadWrite.All',
  ]);
  // The secret text is never persisted: rotate the seed credential on every start.
  app.passwordCredentials = app.passwordCredentials.filter((c) => c.keyId !== seed.seedCredentialKeyId);
  const { credential, secretText } = directory.addPassword(app, { displayName: 'azure-sim seed' });
  seed.seedCredentialKeyId = credential.keyId;
  if (!directory.servicePrincipals.get(seed.managedIdentityObjectId)) {
    const mi = directory.createManagedIdentity(
      'ade-autopilot-func',
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ade-autopilot/providers/Microsoft.Web/sites/ade-autopilot-func',
    );
    seed.managedIdentityObjectId = mi.id;
  }
  return secretText;
}

/** Asks the Resource Manager part to create the seeded subscription (its control API, as a client would). */
async function seedArm(arm: ArmService, seed: SimSeed, log: SimContext['log']): Promise<void> {
  const body = Buffer.from(
    JSON.stringify({ subscriptionId: seed.subscriptionId, tenantId: seed.tenantId, displayName: 'azure-sim seeded subscription' }),
  );
  const req: SimRequest = {
    method: 'PUT',
    host: '127.0.0.1',
    path: `/_sim/arm/subscriptions/${seed.subscriptionId}`,
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json' },
    body,
    json: JSON.parse(body.toString()),
    requestId: randomUUID(),
  };
  try {
    const res = await arm.handleControl(req);
    if (!res || res.status >= 400) log('warn', 'the Resource Manager part did not seed the subscription', { status: res?.status });
    // The automation principal owns the seeded subscription (it is the one that can grant roles to others).
    arm.grantRole?.({ principalId: seed.clientObjectId, roleName: 'Owner', scope: `/subscriptions/${seed.subscriptionId}` });
  } catch (err) {
    log('warn', 'seeding the subscription failed', { error: (err as Error).message });
  }
}

/** Answers a part's hosts with 501 until that part exists, so clients get a clear error instead of a refused tunnel. */
function notMountedService(name: string, what: string, matches: (host: string) => boolean): Service {
  return {
    name,
    requiresAuth: false,
    matches,
    operationOf: (req) => `${req.method} ${req.path}`,
    handle: () => Promise.reject(new SimError(501, 'NotMounted', `The simulator's ${what} part is not mounted.`)),
  };
}

async function dispatch(pipeline: Pipeline, req: DispatchRequest): Promise<DispatchResponse> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:') throw new Error(`dispatch needs an https URL, got ${req.url}`);
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  const out = await pipeline.handle({ method: req.method, host: url.hostname, url: `${url.pathname}${url.search}`, headers, body });
  let json: unknown;
  if ((out.headers['content-type'] ?? '').includes('json') && out.body.length > 0) {
    try {
      json = JSON.parse(out.body.toString('utf8'));
    } catch {
      json = undefined;
    }
  }
  return { status: out.status, headers: out.headers, body: out.body, json };
}

/** Writes `KEY=value` lines (shell-quoted) that `source` can load. */
export function writeEnvFile(path: string, env: Record<string, string>): void {
  const lines = Object.entries(env).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
  writeFileSync(path, `# Written by the Azure simulator; source this file to point a shell at it.\n${lines.join('\n')}\n`, { mode: 0o600 });
}

export type { Service, SimResponse };
