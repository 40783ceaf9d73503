/**
 * Test helpers: start a simulator and point this test process at it the way a real process would
 * be (HTTPS_PROXY, NO_PROXY, credentials in env). Node 20 reads NODE_EXTRA_CA_CERTS only at start,
 * so the CA is added to tls.connect's trust instead — the SDK clients themselves stay unmodified.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../../local/azure-sim/index';

let patched = false;
const trusted: string[] = [];
// One context for all connections: building one per connection from ~140 root PEMs costs tens of ms.
let sharedContext: tls.SecureContext | undefined;

export function trustCa(pem: string): void {
  if (!trusted.includes(pem)) {
    trusted.push(pem);
    sharedContext = undefined;
  }
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function patchedConnect(this: unknown, ...args: unknown[]) {
    const options = args.find((a) => typeof a === 'object' && a !== null) as tls.ConnectionOptions | undefined;
    if (options && options.ca === undefined && options.secureContext === undefined) {
      sharedContext ??= tls.createSecureContext({ ca: [...tls.rootCertificates, ...trusted] });
      options.secureContext = sharedContext;
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  } as typeof tls.connect;
}

/** Starts a simulator and exports its env into this process (each vitest file runs in its own fork). */
export async function startSimForTest(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ log: () => undefined, ...options });
  trustCa(readFileSync(sim.caCertPath, 'utf8'));
  for (const [k, v] of Object.entries(sim.env)) process.env[k] = v;
  return sim;
}

/** fetch through the simulator's proxy (Node's global fetch ignores HTTPS_PROXY). */
export function proxiedFetch(sim: Simulator) {
  const dispatcher = new ProxyAgent({ uri: sim.url, requestTls: { ca: [...tls.rootCertificates, readFileSync(sim.caCertPath, 'utf8')] } });
  const f = (url: string, init: Parameters<typeof undiciFetch>[1] = {}) => undiciFetch(url, { ...init, dispatcher });
  return Object.assign(f, { close: () => dispatcher.close() });
}

/** Calls the control API (plain HTTP on loopback). */
export async function control<T = unknown>(
  sim: Simulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export interface TestVaultOptions {
  enabledForDiskEncryption?: boolean;
  enableSoftDelete?: boolean;
  enablePurgeProtection?: boolean;
  softDeleteRetentionInDays?: number;
  location?: string;
  accessPolicies?: { tenantId: string; objectId: string; permissions: { keys?: string[]; secrets?: string[] } }[];
}

/**
 * Creates a vault for data-plane tests. Uses the control API's stand-alone vaults when Resource
 * Manager is not mounted; otherwise goes through Microsoft.KeyVault/vaults like a real client.
 */
export async function createTestVault(sim: Simulator, name: string, options: TestVaultOptions = {}): Promise<{ vaultUrl: string }> {
  const accessPolicies = options.accessPolicies ?? [
    { tenantId: sim.seed.tenantId, objectId: sim.seed.clientObjectId, permissions: { keys: ['all'], secrets: ['all'] } },
  ];
  if (!sim.mounted.arm) {
    const res = await control(sim, 'PUT', `/_sim/keyvault/vaults/${name}`, { ...options, accessPolicies });
    if (res.status !== 200) throw new Error(`creating vault ${name} failed: ${JSON.stringify(res.body)}`);
    return { vaultUrl: `https://${name}.vault.azure.net` };
  }
  const { KeyVaultManagementClient } = await import('@azure/arm-keyvault');
  const { ClientSecretCredential } = await import('@azure/identity');
  const cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret);
  const rg = 'kv-tests';
  await control(sim, 'PUT', `/_sim/arm/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${rg}`, {
    location: options.location ?? 'westeurope',
  });
  const client = new KeyVaultManagementClient(cred, sim.seed.subscriptionId);
  await client.vaults.beginCreateOrUpdateAndWait(rg, name, {
    location: options.location ?? 'westeurope',
    properties: {
      tenantId: sim.seed.tenantId,
      sku: { family: 'A', name: 'standard' },
      accessPolicies: accessPolicies.map((p) => ({ tenantId: p.tenantId, objectId: p.objectId, permissions: p.permissions as never })),
      enabledForDiskEncryption: options.enabledForDiskEncryption ?? false,
      enableSoftDelete: options.enableSoftDelete ?? true,
      enablePurgeProtection: options.enablePurgeProtection || undefined,
      softDeleteRetentionInDays: options.softDeleteRetentionInDays ?? 90,
    },
  });
  return { vaultUrl: `https://${name}.vault.azure.net` };
}

/** Creates a service principal with a client secret through the control API. */
export async function createPrincipal(sim: Simulator, displayName: string, body: Record<string, unknown> = {}) {
  const res = await control<{ appId: string; objectId: string; clientSecret: string; tenantId: string }>(sim, 'POST', '/_sim/principals', {
    displayName,
    ...body,
  });
  if (res.status !== 201) throw new Error(`creating principal failed: ${JSON.stringify(res.body)}`);
  return res.body;
}
