/**
 * The single source of truth for which events each Event Grid-triggered function accepts. The
 * infrastructure templates' subscription filters are tested against this table, and handlers use
 * {@link matchesRoute} to drop anything a filter let through by mistake.
 */
export interface EventRoute {
  readonly eventTypes: readonly string[];
  /** When present, `data.operationName` must be one of these (compared case-insensitively). */
  readonly operationNames?: readonly string[];
  /**
   * Further Event Grid advanced filters (ANDed; the values of one filter are ORed), so that Event Grid does not invoke
   * the function for events it would ignore. A value may name configuration the deployment fills in.
   */
  readonly filters?: readonly RouteFilter[];
}

/** Values a deployment supplies: the app's own settings, as infra/event-subscriptions.json receives them. */
export interface RouteConfiguration {
  /** ADE_POLICY_DEFINITION_IDS. */
  policyDefinitionIds: readonly string[];
  /** ADE_VAULT_RESOURCE_GROUP. */
  vaultResourceGroup: string;
}

export type ConfiguredValue = { readonly configured: 'policyDefinitionIds' } | { readonly configured: 'vaultResourceIdPart' };

export interface RouteFilter {
  readonly operatorType: 'StringIn' | 'StringContains';
  /** `subject` or `data.<field>` (https://learn.microsoft.com/azure/event-grid/event-filtering#advanced-filtering). */
  readonly key: string;
  readonly values: readonly (string | ConfiguredValue)[];
}

export interface AdvancedFilter {
  operatorType: RouteFilter['operatorType'];
  key: string;
  values: string[];
}

export const EVENT_ROUTES = {
  /** A VM created or updated, or started (a VM that was deallocated when first assessed is encrypted once it runs). */
  vmWritten: {
    eventTypes: ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Resources.ResourceActionSuccess'],
    // VMs start encryptVm; scale sets (their model) start encryptVmss.
    operationNames: [
      'Microsoft.Compute/virtualMachines/write',
      'Microsoft.Compute/virtualMachines/start/action',
      'Microsoft.Compute/virtualMachineScaleSets/write',
    ],
  },
  armDrift: {
    eventTypes: ['Microsoft.Resources.ResourceDeleteSuccess', 'Microsoft.Resources.ResourceWriteSuccess'],
    operationNames: [
      'Microsoft.Compute/virtualMachines/extensions/delete',
      'Microsoft.KeyVault/vaults/write',
      'Microsoft.KeyVault/vaults/accessPolicies/write',
    ],
    // An extension of any VM, but only the managed vaults: vault writes elsewhere never reach the function.
    filters: [
      {
        operatorType: 'StringContains',
        key: 'subject',
        values: ['/providers/Microsoft.Compute/virtualMachines/', { configured: 'vaultResourceIdPart' }],
      },
    ],
  },
  secretEvents: {
    eventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'],
  },
  policyStates: {
    eventTypes: ['Microsoft.PolicyInsights.PolicyStateCreated', 'Microsoft.PolicyInsights.PolicyStateChanged'],
    // Only the configured definitions' NonCompliant states, not every compliance change of every policy.
    filters: [
      { operatorType: 'StringIn', key: 'data.complianceState', values: ['NonCompliant'] },
      { operatorType: 'StringIn', key: 'data.policyDefinitionId', values: [{ configured: 'policyDefinitionIds' }] },
    ],
  },
} as const satisfies Record<string, EventRoute>;

export type EventRouteName = keyof typeof EVENT_ROUTES;

/** The part of a managed vault's resource id (an event's subject) that names the vault resource group. */
export function vaultResourceIdPart(vaultResourceGroup: string): string {
  return `/resourceGroups/${vaultResourceGroup}/providers/Microsoft.KeyVault/vaults/`;
}

/** The route's Event Grid advanced filters with the configuration filled in: operation names first, then `filters`. */
export function advancedFilters(route: EventRoute, configuration: RouteConfiguration): AdvancedFilter[] {
  const operation: AdvancedFilter[] = route.operationNames
    ? [{ operatorType: 'StringIn', key: 'data.operationName', values: [...route.operationNames] }]
    : [];
  return [
    ...operation,
    ...(route.filters ?? []).map((f) => ({
      operatorType: f.operatorType,
      key: f.key,
      values: f.values.flatMap((v) =>
        typeof v === 'string'
          ? [v]
          : v.configured === 'policyDefinitionIds'
            ? [...configuration.policyDefinitionIds]
            : [vaultResourceIdPart(configuration.vaultResourceGroup)],
      ),
    })),
  ];
}

/** The minimum a route needs to see: a parsed event (AdeEvent) satisfies it. */
export interface RoutableEvent {
  eventType: string;
  data?: unknown;
}

export function matchesRoute(route: EventRoute, event: RoutableEvent): boolean {
  const eventType = event.eventType.trim().toLowerCase();
  if (!route.eventTypes.some((t) => t.toLowerCase() === eventType)) return false;
  if (!route.operationNames) return true;
  const operationName = operationNameOf(event.data);
  if (operationName === undefined) return false;
  const lower = operationName.toLowerCase();
  return route.operationNames.some((name) => name.toLowerCase() === lower);
}

function operationNameOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const value = record.operationName ?? record.OperationName;
  return typeof value === 'string' ? value.trim() : undefined;
}
