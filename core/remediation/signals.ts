/**
 * Drift signals → VMs to remediate. Three sources, each pure over already-parsed events:
 * - Policy state events (https://learn.microsoft.com/azure/event-grid/event-schema-policy): NonCompliant for a
 * configured definition. Ordered by
 *    the event's own `data.timestamp` (never `eventTime`); the newest state per VM wins, so a
 *    NonCompliant followed by a later Compliant is stale and ignored.
 *  - Azure Monitor alerts (common alert schema): every VM target; children of a VM (an extension)
 *    count for their VM; anything else is answered with the reason it is ignored.
 *  - Resource Manager events: the ADE extension deleted, or a managed vault written.
 */
import type { CommonAlert } from '../events/alert';
import type { PolicyStateEvent, ResourceEvent } from '../events/types';
import type { EncryptionPolicy } from '../policy';
import { formatResourceId, isResourceType, normaliseResourceId, parseResourceId, type ResourceId } from '../resource-ids';
import { isManagedVault } from './vault-drift';

export type SignalSource = 'policy' | 'alert' | 'arm-extension-deleted' | 'arm-vault-written' | 'on-demand' | 'bek-sweep';

export interface VmSignal {
  /** Canonical (lower-case) VM id. */
  vmId: string;
  source: SignalSource;
  /** Why this VM is looked at, for the remediation's output and logs. */
  why: string;
  /** The signal's own time (policy `data.timestamp`, alert `firedDateTime`, event time). */
  observedAt?: string;
}

export interface IgnoredSignal {
  /** The resource id or event id the signal named. */
  target: string;
  reason: string;
}

export interface SignalSelection<T> {
  selected: T[];
  ignored: IgnoredSignal[];
}

// ---------------------------------------------------------------------------------------------
// Policy

/** Policy definition ids compare case-insensitively (Policy lower-cases them in events). */
function sameDefinition(a: string, b: string): boolean {
  return a.trim().toLowerCase().replace(/\/+$/, '') === b.trim().toLowerCase().replace(/\/+$/, '');
}

/**
 * Picks the VMs to remediate from a batch of policy state events. `lastSeen` (optional) maps a VM
 * id to the newest policy timestamp already acted on, so a redelivered or older event is stale.
 */
export function selectPolicySignals(
  events: readonly PolicyStateEvent[],
  definitionIds: readonly string[],
  lastSeen: ReadonlyMap<string, string> = new Map(),
): SignalSelection<VmSignal> {
  const ignored: IgnoredSignal[] = [];
  const newest = new Map<string, PolicyStateEvent>();
  for (const event of events) {
    const target = event.resourceId || event.envelope.id;
    if (!definitionIds.some((d) => sameDefinition(d, event.data.policyDefinitionId))) {
      ignored.push({
        target,
        reason: `policy definition ${event.data.policyDefinitionId} is not one of the configured ADE_POLICY_DEFINITION_IDS`,
      });
      continue;
    }
    let vmId: string;
    try {
      vmId = vmIdOf(parseResourceId(event.resourceId, 'subject'));
    } catch {
      ignored.push({ target, reason: 'the evaluated resource is not a virtual machine' });
      continue;
    }
    const known = newest.get(vmId);
    if (known && Date.parse(known.data.timestamp) >= Date.parse(event.data.timestamp)) {
      ignored.push({ target, reason: `stale: a newer policy state (${known.data.timestamp}) for this VM is in the same delivery` });
      continue;
    }
    if (known) ignored.push({ target: known.resourceId, reason: `stale: superseded by the policy state of ${event.data.timestamp}` });
    newest.set(vmId, event);
  }
  const selected: VmSignal[] = [];
  for (const [vmId, event] of newest) {
    const seen = lastSeen.get(vmId);
    if (seen !== undefined && Date.parse(seen) >= Date.parse(event.data.timestamp)) {
      ignored.push({ target: event.resourceId, reason: `stale: a policy state of ${seen} was already handled for this VM` });
      continue;
    }
    if (event.change === 'deleted') {
      ignored.push({ target: event.resourceId, reason: 'the policy state was deleted (assignment or resource removed)' });
      continue;
    }
    if (event.data.complianceState.toLowerCase() !== 'noncompliant') {
      ignored.push({ target: event.resourceId, reason: `compliance state is ${event.data.complianceState || 'empty'}, not NonCompliant` });
      continue;
    }
    selected.push({
      vmId,
      source: 'policy',
      why: `policy ${event.data.policyDefinitionId.split('/').at(-1) ?? ''} reports NonCompliant at ${event.data.timestamp}`,
      observedAt: event.data.timestamp,
    });
  }
  return { selected, ignored };
}

// ---------------------------------------------------------------------------------------------
// Alerts

function vmIdOf(id: ResourceId): string {
  if (isResourceType(id, 'Microsoft.Compute/virtualMachines') && id.resourceGroup !== undefined) return normaliseResourceId(id);
  throw new Error('not a VM');
}

/** A VM, or a child of one (extension, run command): the VM it belongs to. */
function owningVm(id: ResourceId): string | undefined {
  if (
    id.provider?.toLowerCase() !== 'microsoft.compute' ||
    id.resourceTypes[0]?.toLowerCase() !== 'virtualmachines' ||
    id.resourceGroup === undefined
  )
    return undefined;
  return normaliseResourceId({ ...id, resourceTypes: [id.resourceTypes[0]], names: [id.names[0]] });
}

const NON_VM_REASONS: Array<[string, string]> = [
  ['Microsoft.Compute/disks', 'a managed disk: remediation acts on the VM that uses it; target the alert rule at the VM'],
  [
    'Microsoft.Compute/virtualMachineScaleSets',
    'a virtual machine scale set: the app encrypts scale sets from their write events (encryptVmss); alert remediation acts on VMs only',
  ],
  ['Microsoft.KeyVault/vaults', 'a Key Vault: vault drift is repaired from its Resource Manager write events, not from alerts'],
  ['Microsoft.HybridCompute/machines', 'an Arc machine: ADE applies to Azure VMs only'],
];

/** The VMs an alert is about; every other target with the reason it is ignored. Resolved alerts start nothing. */
export function alertTargets(alert: CommonAlert): SignalSelection<VmSignal> {
  const selected: VmSignal[] = [];
  const ignored: IgnoredSignal[] = [];
  const { essentials } = alert;
  if (essentials.monitorCondition === 'Resolved') {
    return {
      selected,
      ignored: essentials.alertTargetIDs.map((target) => ({
        target,
        reason: 'the alert is Resolved; only Fired alerts start remediation',
      })),
    };
  }
  const seen = new Set<string>();
  for (const target of essentials.alertTargetIDs) {
    let id: ResourceId;
    try {
      id = parseResourceId(target, 'alertTargetIDs');
    } catch {
      ignored.push({ target, reason: 'not an ARM resource id' });
      continue;
    }
    const vm = owningVm(id);
    if (vm === undefined) {
      const full = [id.provider, ...id.resourceTypes].filter(Boolean).join('/').toLowerCase();
      const known = NON_VM_REASONS.find(([type]) => full.startsWith(type.toLowerCase()));
      ignored.push({
        target,
        reason: `not a virtual machine: ${known ? known[1] : `${full || 'a subscription or resource group'} is not a VM`}`,
      });
      continue;
    }
    if (seen.has(vm)) continue;
    seen.add(vm);
    selected.push({
      vmId: vm,
      source: 'alert',
      why: `alert "${essentials.alertRule}" fired at ${essentials.firedDateTime}`,
      observedAt: essentials.firedDateTime,
    });
  }
  return { selected, ignored };
}

// ---------------------------------------------------------------------------------------------
// Resource Manager events

/** Extension instance names that can be the ADE extension (templates rename it, e.g. `diskEncryption`). */
const ADE_EXTENSION_NAME = /encrypt/i;

export type ArmDriftSignal = VmSignal | { vaultId: string; source: 'arm-vault-written'; why: string; observedAt?: string };

export function selectArmDriftSignals(
  events: readonly ResourceEvent[],
  policy: Pick<EncryptionPolicy, 'vault' | 'scope'>,
): SignalSelection<ArmDriftSignal> {
  const selected: ArmDriftSignal[] = [];
  const ignored: IgnoredSignal[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    const target = event.data.resourceUri;
    let id: ResourceId;
    try {
      id = parseResourceId(target, 'data.resourceUri');
    } catch {
      ignored.push({ target, reason: 'data.resourceUri is not an ARM resource id' });
      continue;
    }
    const op = event.data.operationName.toLowerCase();
    if (
      event.operation === 'delete' &&
      event.outcome === 'success' &&
      op === 'microsoft.compute/virtualmachines/extensions/delete' &&
      isResourceType(id, 'Microsoft.Compute/virtualMachines/extensions')
    ) {
      // The deleted resource cannot be read back for its type, so the instance name decides.
      const name = id.names[1] ?? '';
      if (!ADE_EXTENSION_NAME.test(name)) {
        ignored.push({ target, reason: `extension "${name}" is not the ADE extension (name does not mention encryption)` });
        continue;
      }
      const vmId = owningVm(id)!;
      if (seen.has(vmId)) continue;
      seen.add(vmId);
      selected.push({
        vmId,
        source: 'arm-extension-deleted',
        why: `extension "${name}" was deleted`,
        ...(event.envelope.eventTime ? { observedAt: event.envelope.eventTime } : {}),
      });
    } else if (
      event.operation === 'write' &&
      event.outcome === 'success' &&
      ((op === 'microsoft.keyvault/vaults/write' && isResourceType(id, 'Microsoft.KeyVault/vaults')) ||
        (op === 'microsoft.keyvault/vaults/accesspolicies/write' && isResourceType(id, 'Microsoft.KeyVault/vaults/accessPolicies')))
    ) {
      // An access-policy write names `<vault>/accessPolicies/{add|remove|replace}`: the vault is what drifted.
      const vaultResource = { ...id, resourceTypes: id.resourceTypes.slice(0, 1), names: id.names.slice(0, 1) };
      const vaultId = normaliseResourceId(vaultResource);
      if (!isManagedVault(formatResourceId(vaultResource), policy)) {
        ignored.push({ target, reason: "the vault is not one of this app's dedicated ADE vaults" });
        continue;
      }
      if (seen.has(vaultId)) continue;
      seen.add(vaultId);
      selected.push({
        vaultId,
        source: 'arm-vault-written',
        why: op.endsWith('accesspolicies/write') ? "the vault's access policies were written" : 'the vault was written',
        ...(event.envelope.eventTime ? { observedAt: event.envelope.eventTime } : {}),
      });
    } else {
      ignored.push({ target, reason: `operation ${event.data.operationName} (${event.operation} ${event.outcome}) is not a drift signal` });
    }
  }
  return { selected, ignored };
}
