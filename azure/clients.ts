/**
 * Builds the app's Azure ports: ONE credential per process, each adapter created on first use and
 * reused across function invocations (SDK clients pool connections and cache tokens).
 *
 *  - `managed-identity` mode (default, in Azure): ManagedIdentityCredential, user-assigned when a
 *    client id is configured, system-assigned otherwise.
 *  - `environment` mode (local runs, CI, the simulator): ClientSecretCredential from
 *    AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, else EnvironmentCredential (which also
 *    understands certificate and workload-identity variables).
 *
 * Proxy settings (HTTPS_PROXY / NO_PROXY) are honoured by the Azure SDK pipelines themselves and,
 * for Microsoft Graph, by azure/proxy-fetch.ts.
 */
import type { TokenCredential } from '@azure/core-auth';
import { ClientSecretCredential, EnvironmentCredential, ManagedIdentityCredential } from '@azure/identity';
import type { AppConfig } from '../core/config';
import { ValidationError } from '../core/errors';
import { ComputeAdapter } from './compute';
import { DiagnosticSettingsAdapter } from './diagnostic-settings';
import { DirectoryAdapter } from './directory';
import { SDK_RETRY_OPTIONS } from './errors';
import { EventSubscriptionAdapter } from './event-subscriptions';
import { SubscriptionEventWiringAdapter } from './subscription-event-wiring';
import { KeyVaultDataAdapter } from './keyvault-data';
import type {
  AzurePorts,
  ComputePort,
  DiagnosticSettingsPort,
  DirectoryPort,
  EventSubscriptionPort,
  SubscriptionEventWiringPort,
  KeyVaultDataPort,
  ResourceGraphPort,
  VaultManagementPort,
} from './ports';
import { ResourceGraphAdapter } from './resource-graph';
import { ScaleSetAdapter, type ScaleSetPort } from './scale-sets';
import { VaultManagementAdapter } from './vault-management';

export type AzureAuthConfig = Pick<AppConfig, 'auth'> & Partial<Pick<AppConfig, 'subscriptions'>>;

export interface CreateAzurePortsOptions {
  /**
   * Use this credential instead of building one from config (tests, custom hosts); a function returning it is called
   * only when the first adapter is built.
   */
  credential?: TokenCredential | (() => TokenCredential);
  /** Environment to read AZURE_* variables from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Poll interval for the short LROs the adapters wait on (default: what ARM suggests). */
  pollIntervalMs?: number;
}

/** Builds the credential the config asks for. Secrets from the environment are never logged. */
export function createCredential(config: AzureAuthConfig, env: Record<string, string | undefined> = process.env): TokenCredential {
  const retryOptions = { ...SDK_RETRY_OPTIONS };
  if (config.auth.mode === 'managed-identity') {
    return config.auth.clientId
      ? new ManagedIdentityCredential({ clientId: config.auth.clientId, retryOptions })
      : new ManagedIdentityCredential({ retryOptions });
  }
  if (config.auth.mode === 'environment') {
    const tenantId = env.AZURE_TENANT_ID;
    const clientId = config.auth.clientId ?? env.AZURE_CLIENT_ID;
    const secret = env.AZURE_CLIENT_SECRET;
    if (tenantId && clientId && secret) return new ClientSecretCredential(tenantId, clientId, secret, { retryOptions });
    return new EnvironmentCredential({ retryOptions });
  }
  throw new ValidationError(
    `Unknown auth mode ${JSON.stringify((config.auth as { mode: unknown }).mode)}: expected managed-identity or environment`,
    { field: 'ADE_AUTH_MODE' },
  );
}

/**
 * The ports for this process. Nothing talks to Azure until a port method is called; each adapter
 * is constructed on first access and then kept.
 */
export function createAzurePorts(config: AzureAuthConfig, options: CreateAzurePortsOptions = {}): AzurePorts {
  const env = options.env ?? process.env;
  const given = options.credential;
  let credential: TokenCredential | undefined = typeof given === 'function' ? undefined : given;
  const getCredential = (): TokenCredential => (credential ??= typeof given === 'function' ? given() : createCredential(config, env));
  const defaultSubscriptionId = config.subscriptions?.[0] ?? env.AZURE_SUBSCRIPTION_ID;
  const pollIntervalMs = options.pollIntervalMs;

  let compute: ComputePort | undefined;
  let vaults: VaultManagementPort | undefined;
  let keyVault: KeyVaultDataPort | undefined;
  let directory: DirectoryPort | undefined;
  let eventSubscriptions: EventSubscriptionPort | undefined;
  let resourceGraph: ResourceGraphPort | undefined;
  let scaleSets: ScaleSetPort | undefined;
  let diagnostics: DiagnosticSettingsPort | undefined;
  let subscriptionEvents: SubscriptionEventWiringPort | undefined;

  return {
    get resourceGraph() {
      return (resourceGraph ??= new ResourceGraphAdapter(getCredential()));
    },
    get scaleSets() {
      return (scaleSets ??= new ScaleSetAdapter(getCredential()));
    },
    get compute() {
      return (compute ??= new ComputeAdapter(getCredential(), { pollIntervalMs }));
    },
    get vaults() {
      return (vaults ??= new VaultManagementAdapter(getCredential(), defaultSubscriptionId, { pollIntervalMs }));
    },
    get keyVault() {
      return (keyVault ??= new KeyVaultDataAdapter(getCredential(), { pollIntervalMs }));
    },
    get directory() {
      return (directory ??= new DirectoryAdapter(getCredential()));
    },
    get eventSubscriptions() {
      return (eventSubscriptions ??= new EventSubscriptionAdapter(getCredential(), { pollIntervalMs }));
    },
    get diagnostics() {
      return (diagnostics ??= new DiagnosticSettingsAdapter(getCredential()));
    },
    get subscriptionEvents() {
      return (subscriptionEvents ??= new SubscriptionEventWiringAdapter(getCredential(), { pollIntervalMs }));
    },
  };
}
