/**
 * A connection to a running `npm start` (from .state/start.json and .state/sim/sim.env): the user's
 * Compute client over the simulator's proxy, the simulator's control API, the app's status API (function key) and
 * the host's Durable status API. Shared by `npm run demo` and the pipeline benchmark.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { ClientSecretCredential } from '@azure/identity';
import { ValidationError } from '../../core/errors';
import { readStartState, type StartState } from '../start/state-file';
import { trustCertificateAuthority } from '../start/trust';

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  customStatus?: { phase?: string; detail?: string } | null;
  output?: { outcome?: string; reason?: string; message?: string } | string | null;
  createdTime: string;
  lastUpdatedTime: string;
}

export const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export type OsKind = 'Windows' | 'Linux';

export interface VmSpec {
  name: string;
  os: OsKind;
  location: string;
  resourceGroup: string;
}

/** Parses sim.env (`export K='v'` lines, single quotes escaped as '\''). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Za-z_][A-Za-z0-9_]*)='(.*)'$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!.replace(/'\\''/g, "'");
  }
  return out;
}

export function vmBody(spec: VmSpec): VirtualMachine {
  const windows = spec.os === 'Windows';
  return {
    location: spec.location,
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      imageReference: windows
        ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
        : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
      osDisk: { createOption: 'FromImage', osType: spec.os },
      dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
    },
    osProfile: windows
      ? {
          computerName: spec.name.slice(0, 15),
          adminUsername: 'azureuser',
          adminPassword: `Sim-${spec.name.slice(0, 8)}-Passw0rd`,
          windowsConfiguration: {},
        }
      : { computerName: spec.name.slice(0, 63), adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
  };
}

export class Session {
  readonly compute: ComputeManagementClient;

  private constructor(readonly state: StartState) {
    const u = state.user;
    this.compute = new ComputeManagementClient(new ClientSecretCredential(u.tenantId, u.clientId, u.clientSecret), state.subscriptionId);
  }

  /** Connects to the `npm start` whose state lives under stateRoot; fails clearly when none is running. */
  static async connect(stateRoot: string): Promise<Session> {
    const state = readStartState(stateRoot);
    try {
      process.kill(state.launcherPid, 0);
    } catch {
      throw new ValidationError(
        `The npm start that wrote ${path.join(stateRoot, 'start.json')} (pid ${state.launcherPid}) is no ` +
          `longer running. Start it again: npm start`,
        { field: 'start.json' },
      );
    }
    const envFile = path.join(stateRoot, 'sim', 'sim.env');
    if (!existsSync(envFile)) throw new ValidationError(`${envFile} is missing; restart npm start`, { field: 'sim.env' });
    const simEnv = parseEnvFile(readFileSync(envFile, 'utf8'));
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) if (simEnv[name]) process.env[name] = simEnv[name];
    if (!simEnv.NODE_EXTRA_CA_CERTS) throw new ValidationError(`${envFile} has no NODE_EXTRA_CA_CERTS`, { field: 'sim.env' });
    trustCertificateAuthority(simEnv.NODE_EXTRA_CA_CERTS);
    const session = new Session(state);
    await session.control('GET', '/_sim/health');
    return session;
  }

  async control<T = unknown>(method: string, urlPath: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.state.simUrl}${urlPath}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Simulator control ${method} ${urlPath} answered ${response.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async durable(
    urlPath: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown; continuation?: string }> {
    const sep = urlPath.includes('?') ? '&' : '?';
    const response = await fetch(
      `${this.state.hostUrl}/runtime/webhooks/durabletask/${urlPath}${sep}code=${encodeURIComponent(this.state.keys.durable)}`,
      { headers },
    );
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      continuation: response.headers.get('x-ms-continuation-token') ?? undefined,
    };
  }

  /** The dashboard of the running host (function key in its URL, as `npm start` prints it). */
  dashboardUrl(): string {
    return `${this.state.hostUrl}/api/dashboard?code=${encodeURIComponent(this.state.keys.function)}`;
  }

  /** A route of the app's status API, with the function key (404 → undefined). */
  async statusApi<T>(route: string): Promise<T | undefined> {
    const response = await fetch(`${this.state.hostUrl}/api/${route}`, { headers: { 'x-functions-key': this.state.keys.function } });
    const text = await response.text();
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`GET /api/${route} answered ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  /** One VM from the status API (`GET /api/vms/{subscription}/{resourceGroup}/{name}`); undefined until the app ran for it. */
  vm<T>(vmId: string): Promise<T | undefined> {
    const [, , subscription, , resourceGroup, , , , name] = vmId.split('/');
    return this.statusApi<T>(`vms/${[subscription, resourceGroup, name].map((s) => encodeURIComponent(s ?? '')).join('/')}`);
  }

  async instance(instanceId: string): Promise<InstanceStatus | undefined> {
    const res = await this.durable(`instances/${encodeURIComponent(instanceId)}?showHistory=false&showInput=false`);
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw new Error(`Durable status of ${instanceId} answered ${res.status}`);
    return res.body as InstanceStatus;
  }

  /** All orchestration instances (entities left out), in pages of 1,000. */
  async instances(): Promise<InstanceStatus[]> {
    const all: InstanceStatus[] = [];
    let continuation: string | undefined;
    do {
      const res = await this.durable('instances?top=1000&showInput=false', continuation ? { 'x-ms-continuation-token': continuation } : {});
      if (res.status >= 400) throw new Error(`Durable instance list answered ${res.status}`);
      all.push(...(res.body as InstanceStatus[]));
      continuation = res.continuation;
    } while (continuation);
    return all.filter((i) => !i.instanceId.startsWith('@'));
  }

  /** Sends the VM PUT as the user (as a portal or `az vm create` would) and returns once ARM accepted it. */
  async createVm(spec: VmSpec): Promise<string> {
    const poller = await this.compute.virtualMachines.beginCreateOrUpdate(spec.resourceGroup, spec.name, vmBody(spec));
    const id =
      poller.getResult()?.id ??
      `/subscriptions/${this.state.subscriptionId}/resourceGroups/${spec.resourceGroup}/providers/` +
        `Microsoft.Compute/virtualMachines/${spec.name}`;
    return id;
  }
}
