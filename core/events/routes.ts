/**
 * The single source of truth for which events each Event Grid-triggered function accepts. The
 * infrastructure templates' subscription filters are tested against this table, and handlers use
 * {@link matchesRoute} to drop anything a filter let through by mistake.
 */
export interface EventRoute {
  readonly eventTypes: readonly string[];
  /** When present, `data.operationName` must be one of these (compared case-insensitively). */
  readonly operationNames?: readonly string[];
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
  },
  secretEvents: {
    eventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'],
  },
  policyStates: {
    eventTypes: ['Microsoft.PolicyInsights.PolicyStateCreated', 'Microsoft.PolicyInsights.PolicyStateChanged'],
  },
} as const satisfies Record<string, EventRoute>;

export type EventRouteName = keyof typeof EVENT_ROUTES;

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
