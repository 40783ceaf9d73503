/**
 * Process-wide app state for the function entry files: configuration validated ONCE at module load
 * (a bad setting fails start-up with the ConfigError message naming every problem), the
 * serialisable EncryptionPolicy, one credential and everything built on it (the Azure ports, the
 * outcome publisher, the OpenTelemetry log export to Application Insights).
 *
 * Module load registers the functions and nothing more (cold start, bench/README.md): the credential is built on
 * first use, when a trigger or activity first calls Azure or the first log record starts the telemetry export.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { InvocationContext } from '@azure/functions';
import { createAzurePorts, createCredential } from '../../azure/clients';
import type { AzurePorts } from '../../azure/ports';
import { startAzureMonitor } from '../../azure/telemetry';
import { createOutcomePublisher, type OutcomePublisherPort } from '../../azure/remediation-outcomes';
import { loadConfig, type AppConfig } from '../../core/config';
import type { WiringSettings } from '../../core/events/subscription-wiring';
import { PermissionError, toErrorInfo } from '../../core/errors';
import type { EncryptionPolicy } from '../../core/policy';
import { toEncryptionPolicy } from '../../core/config';
import type { AutomationIdentity } from '../../orchestrations/contracts';
import { contextLog } from './log';
import type { HandlerDeps } from './remediation';
import type { StarterClient } from './start';

export interface AppContext {
  config: AppConfig;
  policy: EncryptionPolicy;
  ports: AzurePorts;
  /** Publishes outcome events to ADE_OUTCOME_TOPIC_ENDPOINT; undefined without a topic. */
  outcomePublisher(): OutcomePublisherPort | undefined;
  /** Tenant and object id of the identity the app runs as, read once from an access token's claims. */
  identity(): Promise<AutomationIdentity>;
  /**
   * Resolves once `policy.scope.subscriptions` holds the subscriptions under ADE_SCOPE's management groups (at once when
   * there are none). Every trigger awaits it before judging scope; the list is refreshed in the background every
   * SCOPE_REFRESH_MS. A failed first discovery throws (Event Grid redelivers, HTTP answers 500) and is retried next call.
   */
  scopeReady(): Promise<void>;
  /** Discovers the management groups' subscriptions now (the event wiring timer's own discovery); throws when it fails. */
  refreshScope(): Promise<void>;
}

/** How often the subscriptions under ADE_SCOPE's management groups are discovered again. */
export const SCOPE_REFRESH_MS = 15 * 60_000;

/**
 * Keeps `policy.scope.subscriptions` = the configured subscriptions ∪ those Resource Graph finds under the management
 * groups. The policy object is shared by every trigger and activity in the process, so all see the refreshed list.
 */
export function scopeDiscovery(
  policy: EncryptionPolicy,
  configured: readonly string[],
  discover: (groups: readonly string[]) => Promise<string[]>,
  now: () => number = Date.now,
): (() => Promise<void>) & { refresh(): Promise<void> } {
  const groups = policy.scope.managementGroups ?? [];
  let discoveredAt: number | undefined;
  let inFlight: Promise<void> | undefined;
  const run = (): Promise<void> =>
    (inFlight ??= discover(groups)
      .then((found) => {
        policy.scope.subscriptions = [...new Set([...configured, ...found.map((s) => s.toLowerCase())])];
        discoveredAt = now();
      })
      .finally(() => {
        inFlight = undefined;
      }));
  const ready = async () => {
    if (groups.length === 0) return;
    if (discoveredAt === undefined) return run();
    // Stale: refresh in the background; a failed refresh keeps the last list.
    if (now() - discoveredAt > SCOPE_REFRESH_MS && !inFlight) void run().catch(() => undefined);
  };
  return Object.assign(ready, { refresh: async () => (groups.length === 0 ? undefined : run()) });
}

/** Subscriptions in scope only because discovery found them under ADE_SCOPE's management groups (lower case). */
export function discoveredSubscriptions(app: Pick<AppContext, 'config' | 'policy'>): string[] {
  const configured = new Set(app.config.subscriptions.map((s) => s.toLowerCase()));
  return app.policy.scope.subscriptions.map((s) => s.toLowerCase()).filter((s) => !configured.has(s));
}

/**
 * What ensureSubscriptionEvents writes, from validated settings only (core/config refuses ADE_EVENT_WIRING=auto without
 * them); undefined when the option is off.
 */
export function eventWiringSettings(config: AppConfig): (WiringSettings & { resourceGroup: string; location: string }) | undefined {
  const site = config.functionApp;
  if (!config.eventWiring || !site || !config.deadLetter) return undefined;
  return {
    functionAppResourceId:
      `/subscriptions/${site.subscriptionId}/resourceGroups/${site.resourceGroup}` + `/providers/Microsoft.Web/sites/${site.siteName}`,
    identityResourceId: config.eventWiring.identityResourceId,
    deadLetter: config.deadLetter,
    vaultResourceGroup: config.vaultResourceGroup,
    policyDefinitionIds: config.remediation.policyDefinitionIds,
    resourceGroup: config.vaultResourceGroup,
    location: config.eventWiring.location,
  };
}

let current: AppContext | undefined;

/** The process's app context; the first call validates configuration and throws ConfigError when it is bad. */
export function appContext(env: Record<string, string | undefined> = process.env): AppContext {
  if (current) return current;
  const config = loadConfig(env);
  let built: TokenCredential | undefined;
  const credential = (): TokenCredential => (built ??= createCredential(config, env));
  // OpenTelemetry log export to Application Insights (customDimensions), once, when the connection string is set.
  startAzureMonitor(credential, env);
  const ports = createAzurePorts(config, { credential, env });
  let identity: Promise<AutomationIdentity> | undefined;
  let publisher: OutcomePublisherPort | undefined;
  const topic = config.remediation.outcomeTopicEndpoint;
  const policy = toEncryptionPolicy(config);
  const scopeReady = scopeDiscovery(policy, config.subscriptions, (groups) => {
    if (!ports.resourceGraph) throw new PermissionError('ADE_SCOPE names management groups but no Resource Graph client is available');
    return ports.resourceGraph.subscriptionsInManagementGroups(groups);
  });
  current = {
    config,
    policy,
    scopeReady,
    refreshScope: scopeReady.refresh,
    ports,
    outcomePublisher: () => (topic ? (publisher ??= createOutcomePublisher(topic, credential())) : undefined),
    identity: () => {
      identity ??= identityFromToken(credential()).catch((error: unknown) => {
        identity = undefined; // try again next time
        throw error;
      });
      return identity;
    },
  };
  return current;
}

/** What a remediation trigger's handler core needs, for one invocation (after the scope is known). */
export async function handlerDeps(client: StarterClient, context: InvocationContext): Promise<HandlerDeps> {
  const app = appContext();
  await app.scopeReady();
  return {
    client,
    policy: app.policy,
    settings: app.config.remediation,
    log: contextLog(context),
    vmExists: (vmId) => vmExists(app, vmId),
  };
}

async function vmExists(app: AppContext, vmId: string): Promise<boolean> {
  try {
    await app.ports.compute.getVm(vmId);
    return true;
  } catch (error) {
    if (toErrorInfo(error).kind === 'not-found') return false;
    throw error;
  }
}

/**
 * Reads `tid` and `oid` from an ARM access token. The token itself never leaves this function
 * and is never logged; only the two ids (not secret) are returned.
 */
async function identityFromToken(credential: TokenCredential): Promise<AutomationIdentity> {
  const token = await credential.getToken('https://management.azure.com/.default');
  if (!token) throw new PermissionError('The app credential returned no access token for Azure Resource Manager');
  const claims = decodeJwtClaims(token.token);
  const tenantId = typeof claims.tid === 'string' ? claims.tid : undefined;
  const objectId = typeof claims.oid === 'string' ? claims.oid : undefined;
  if (!tenantId || !objectId)
    throw new PermissionError('The Resource Manager access token has no tid/oid claims; cannot tell which identity the app runs as');
  return { tenantId, objectId };
}

function decodeJwtClaims(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (!payload) return {};
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
