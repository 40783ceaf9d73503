/**
 * End-to-end harness for the pipeline: the Azure simulator and the local Functions host (running the
 * built app from dist/, which the test run's global setup builds, with the REAL durable-functions library),
 * wired like `npm start` wires them:
 *
 *  - this process trusts the simulator's CA and uses its proxy (sim.env), as the app would via
 *    NODE_EXTRA_CA_CERTS in its own process;
 *  - the subscription's Resource Manager events go to vmWritten through an Event Grid subscription
 *    created over ARM (by a separate "user" principal, so VM writes are not the app's own);
 *  - each vault's Key Vault events go to secretEvents through the webhook the app sets up itself.
 *
 * One harness per test file: @azure/functions-core and the app's configuration are process-wide.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { ComputeManagementClient } from '@azure/arm-compute';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { createArmService } from '../../local/azure-sim/arm/index';
import { createEventGrid } from '../../local/azure-sim/eventgrid/index';
import { startSimulator, type Simulator } from '../../local/azure-sim/index';
import { platformSiteResourceId, type PlatformOptions } from '../../local/host/runtime/platform';
import { startHost, type Host } from '../../local/host/index';
import { resetProxyDispatcher } from '../../azure/proxy-fetch';
import type { EncryptionMode } from '../../core/policy';
import { applyTemplateGrants } from '../../local/start/grants';
import { EVENT_ROUTES } from '../../core/events/routes';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const VAULT_RG = 'rg-ade-vaults';
export const EVENTS_RG = 'rg-ade-events';
export const HUB_KEYS = {
  master: 'pipeline-master-key',
  function: 'pipeline-function-key',
  eventGrid: 'pipeline-eventgrid-key',
  durable: 'pipeline-durable-key',
};

export interface PipelineOptions {
  mode: EncryptionMode;
  /** infra/main.json parameters for the app's grants beyond the vault group (e.g. enableSelfHealingRestart). */
  grantParameters?: Record<string, unknown>;
  kek: boolean;
  /** Extra app settings (ADE_*), applied last. */
  settings?: Record<string, string>;
  /** Settings that name the simulator's (random) subscription, e.g. a resource id; applied after `settings`. */
  settingsFor?: (subscriptionId: string) => Record<string, string>;
  /** Durations (ms) of the simulator's operations (speed 1: these are the real waits). Everything runs on real time. */
  durations?: Record<string, number>;
  /** Create the Resource Manager → vmWritten subscription (default true). */
  armEvents?: boolean;
  /**
   * Run the host as this Azure hosting plan's Function App (its platform variables). The app then gets
   * ADE_FUNCTION_APP_RESOURCE_ID instead of the local-only webhook, and the simulator's Event Grid
   * delivers AzureFunction destinations of that site to this host.
   */
  platform?: PlatformOptions;
  /** The app directory the host loads (default: the repository, i.e. the unbundled dist/functions/*.js). */
  appDir?: string;
}

export interface UserPrincipal {
  tenantId: string;
  clientId: string;
  objectId: string;
  clientSecret: string;
}

export interface Pipeline {
  sim: Simulator;
  host: Host;
  subscriptionId: string;
  user: UserPrincipal;
  /** Object id of the identity the app runs as (holding exactly the template's grants). */
  appObjectId: string;
  compute: ComputeManagementClient;
  eventGrid: EventGridManagementClient;
  /** Every secret the simulator issued to anyone (client secrets, created passwords, BEKs, tokens are checked separately). */
  control<T = any>(method: string, urlPath: string, body?: unknown): Promise<T>;
  /** Creates a VM over ARM as the user principal and waits until ARM reports it created. */
  createVm(
    name: string,
    options?: {
      os?: 'Windows' | 'Linux';
      resourceGroup?: string;
      location?: string;
      tags?: Record<string, string>;
      dataDisks?: number;
      vmSize?: string;
      /** A Flexible scale set the VM joins (`virtualMachineScaleSet.id`). */
      scaleSetId?: string;
    },
  ): Promise<string>;
  /** Polls the host's Durable API until the instance is terminal. */
  waitForInstance(instanceId: string, timeoutMs?: number): Promise<InstanceStatus>;
  getInstance(instanceId: string): Promise<InstanceStatus | undefined>;
  listInstances(): Promise<InstanceStatus[]>;
  stop(): Promise<void>;
}

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: any;
  output: any;
  customStatus: any;
  createdTime: string;
  lastUpdatedTime: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const sim = await startSimulator({ speed: 1, log: () => undefined, createArm: createArmService, createEventGrid });
  const savedEnv = new Map<string, string | undefined>();
  const setEnv = (k: string, v: string) => {
    if (!savedEnv.has(k)) savedEnv.set(k, process.env[k]);
    process.env[k] = v;
  };
  for (const [k, v] of Object.entries(sim.env)) setEnv(k, v);
  await resetProxyDispatcher();
  // In-process equivalent of NODE_EXTRA_CA_CERTS (read only at process start).
  const caPem = readFileSync(sim.caCertPath, 'utf8');
  const originalCreateSecureContext = tls.createSecureContext;
  tls.createSecureContext = ((opts) => {
    const context = originalCreateSecureContext(opts);
    if (!opts?.ca) (context.context as { addCACert(pem: string): void }).addCACert(caPem);
    return context;
  }) as typeof tls.createSecureContext;

  const control = async <T>(method: string, urlPath: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sim.url}${urlPath}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`control ${method} ${urlPath} → ${response.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const subscriptionId = sim.seed.subscriptionId;
  await control('PATCH', '/_sim/arm/config', {
    durations: {
      vmCreate: 200,
      vmUpdate: 100,
      extension: 300,
      adeWindows: 1_000,
      adeLinuxData: 1_000,
      adeLinuxOs: 2_000,
      eventSubscription: 50,
      ...(options.durations ?? {}),
    },
  });
  for (const rg of [VAULT_RG, EVENTS_RG, 'rg-app'])
    await control('PUT', `/_sim/arm/subscriptions/${subscriptionId}/resourceGroups/${rg}`, { location: 'westeurope' });

  const userOut = await control<{ tenantId: string; clientId: string; objectId: string; clientSecret: string }>(
    'POST',
    '/_sim/principals',
    {
      displayName: 'pipeline-test-user',
      // The person who creates VMs and deploys the app: Owner, and the Graph admin permission deploy.sh's operator uses.
      roles: [{ roleName: 'Owner', scope: `/subscriptions/${subscriptionId}` }],
      graphPermissions: ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All'],
    },
  );
  const user: UserPrincipal = {
    tenantId: userOut.tenantId,
    clientId: userOut.clientId,
    objectId: userOut.objectId,
    clientSecret: userOut.clientSecret,
  };
  const credential = new ClientSecretCredential(user.tenantId, user.clientId, user.clientSecret);
  // The app (the principal its AZURE_CLIENT_ID names) gets exactly what infra/main.json and infra/deploy.sh grant, nothing more.
  const appClientId = options.settings?.AZURE_CLIENT_ID ?? sim.env.AZURE_CLIENT_ID;
  const principals = await control<{ value: Array<{ objectId: string; appId: string }> }>('GET', '/_sim/principals');
  const appObjectId = principals.value.find((p) => p.appId === appClientId)?.objectId;
  if (!appObjectId) throw new Error(`the app's AZURE_CLIENT_ID ${appClientId ?? '(unset)'} is no principal of the simulator`);
  await applyTemplateGrants({
    admin: credential,
    subscriptionId,
    appPrincipalId: appObjectId,
    encryptionMode: options.settings?.ADE_ENCRYPTION_MODE ?? options.mode,
    parameters: { vaultResourceGroupName: options.settings?.ADE_VAULT_RESOURCE_GROUP ?? VAULT_RG, ...(options.grantParameters ?? {}) },
  });
  const compute = new ComputeManagementClient(credential, subscriptionId);
  const eventGrid = new EventGridManagementClient(credential, subscriptionId);

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const settings: Record<string, string> = {
    ADE_SUBSCRIPTIONS: subscriptionId,
    ADE_ENCRYPTION_MODE: options.mode,
    ADE_VAULT_RESOURCE_GROUP: VAULT_RG,
    ADE_KEK_ENABLED: String(options.kek),
    ADE_VOLUME_TYPE: 'All',
    ADE_AUTH_MODE: 'environment',
    ADE_SECRET_EVENT_TIMEOUT_MINUTES: '30',
    ADE_ORCHESTRATION_TIMEOUT_MINUTES: '120',
    // Real-time host: short polls through the app's own local-only setting (operations here take a second or two).
    // A host presenting Azure's platform variables is "in Azure": the app refuses local-only settings there, so it
    // polls at Azure's 30 s minimum.
    ...(options.platform ? { ADE_FALLBACK_POLL_SECONDS: '30' } : { ADE_LOCAL_POLL_SECONDS: '2' }),
    ADE_DRY_RUN: 'false',
    ADE_TAG_OUTCOME: 'false',
    ...(options.platform
      ? { ADE_FUNCTION_APP_RESOURCE_ID: platformSiteResourceId(options.platform) }
      : { ADE_SECRET_EVENTS_WEBHOOK_URL: `${baseUrl}/runtime/webhooks/eventgrid?functionName=secretEvents&code=${HUB_KEYS.eventGrid}` }),
    ...sim.env,
    ...(options.settings ?? {}),
    ...(options.settingsFor?.(subscriptionId) ?? {}),
  };
  for (const [k, v] of Object.entries(settings)) setEnv(k, v);
  if (options.platform) {
    await control('PUT', '/_sim/arm/eventgrid/functionApps', {
      name: platformSiteResourceId(options.platform),
      url: baseUrl,
      code: HUB_KEYS.eventGrid,
    });
  }
  const host = await startHost({
    appDir: options.appDir ?? REPO_ROOT,
    port,
    keys: HUB_KEYS,
    env: settings,
    ...(options.platform ? { platform: options.platform } : {}),
  });

  if (options.armEvents !== false) {
    await eventGrid.systemTopics.beginCreateOrUpdateAndWait(EVENTS_RG, 'subscription-events', {
      location: 'global',
      source: `/subscriptions/${subscriptionId}`,
      topicType: 'Microsoft.Resources.Subscriptions',
    });
    await eventGrid.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(EVENTS_RG, 'subscription-events', 'vm-written', {
      destination: {
        endpointType: 'WebHook',
        endpointUrl: `${baseUrl}/runtime/webhooks/eventgrid?functionName=vmWritten&code=${HUB_KEYS.eventGrid}`,
        maxEventsPerBatch: 1,
      } as never,
      filter: {
        includedEventTypes: [...EVENT_ROUTES.vmWritten.eventTypes],
        advancedFilters: [
          { operatorType: 'StringIn', key: 'data.operationName', values: [...EVENT_ROUTES.vmWritten.operationNames] } as never,
        ],
      },
    });
  }

  const durable = async (method: string, urlPath: string): Promise<{ status: number; body: any }> => {
    const sep = urlPath.includes('?') ? '&' : '?';
    const response = await fetch(`${baseUrl}/runtime/webhooks/durabletask/${urlPath}${sep}code=${HUB_KEYS.durable}`, { method });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    return { status: response.status, body };
  };

  const pipeline: Pipeline = {
    sim,
    host,
    subscriptionId,
    user,
    appObjectId,
    compute,
    eventGrid,
    control,
    async createVm(name, vmOptions = {}) {
      const os = vmOptions.os ?? 'Windows';
      const rg = vmOptions.resourceGroup ?? 'rg-app';
      const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(
        rg,
        name,
        {
          location: vmOptions.location ?? 'westeurope',
          tags: vmOptions.tags ?? {},
          ...(vmOptions.scaleSetId ? { virtualMachineScaleSet: { id: vmOptions.scaleSetId } } : {}),
          hardwareProfile: { vmSize: vmOptions.vmSize ?? 'Standard_D4s_v5' },
          storageProfile: {
            imageReference:
              os === 'Windows'
                ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
                : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
            osDisk: { createOption: 'FromImage', osType: os },
            dataDisks: Array.from({ length: vmOptions.dataDisks ?? 1 }, (_, lun) => ({ lun, createOption: 'Empty', diskSizeGB: 64 })),
          },
          osProfile:
            os === 'Windows'
              ? {
                  computerName: name.slice(0, 15),
                  adminUsername: 'azureuser',
                  adminPassword: 'Sim-Passw0rd-not-secret',
                  windowsConfiguration: {},
                }
              : { computerName: name, adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
        },
        { updateIntervalInMs: 50 },
      );
      return vm.id!;
    },
    async getInstance(instanceId) {
      const res = await durable('GET', `instances/${encodeURIComponent(instanceId)}?showHistory=false`);
      return res.status === 404 ? undefined : (res.body as InstanceStatus);
    },
    async waitForInstance(instanceId, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await pipeline.getInstance(instanceId);
        if (status && ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(status.runtimeStatus)) return status;
        if (Date.now() > deadline)
          throw new Error(
            `instance ${instanceId} did not finish in ${timeoutMs} ms: ` +
              `${JSON.stringify(status?.customStatus ?? status?.runtimeStatus ?? 'missing')}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async listInstances() {
      const res = await durable('GET', 'instances/?top=1000&showInput=true');
      return (res.body as InstanceStatus[]).filter((i) => !i.instanceId.startsWith('@'));
    },
    async stop() {
      await host.stop().catch(() => undefined);
      await sim.stop().catch(() => undefined);
      tls.createSecureContext = originalCreateSecureContext;
      await resetProxyDispatcher();
      for (const [k, v] of savedEnv) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
  return pipeline;
}

/** Polls until `check` returns a value (not undefined), or throws after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The text of a host log record as the app wrote it: the app logs each record as one JSON object
 * (`{"message": …, <fields>}`, core/telemetry.ts), so this is its `message`; other records as they are.
 */
export function messageOf(record: { message: unknown }): string {
  const text = String(record.message);
  if (!text.startsWith('{')) return text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : text;
  } catch {
    return text;
  }
}
