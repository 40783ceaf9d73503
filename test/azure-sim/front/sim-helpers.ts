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

export function trustCa(pem: string): void {
  if (!trusted.includes(pem)) trusted.push(pem);
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function patchedConnect(this: unknown, ...args: unknown[]) {
    const options = args.find((a) => typeof a === 'object' && a !== null) as tls.ConnectionOptions | undefined;
    if (options && options.ca === undefined) options.ca = [...tls.rootCertificates, ...trusted];
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
export async function control<T = unknown>(sim: Simulator, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
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
