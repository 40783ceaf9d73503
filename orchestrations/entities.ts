/**
 * Durable entities of the pipeline (pure state machines; no I/O, no clocks):
 *
 *  - `vault` (key = vault name): the vault's ready state (vault URL and id, versioned KEK URL, the
 *    aad app ids, whether the secret-event subscription exists) plus a provisioning lease. The
 *    bundled Durable extension has no critical sections (local/host/README.md), so runs take turns
 *    through the lease: entity operations are serialised, the one run holding an unexpired lease
 *    provisions (idempotent activities) and `set`s the ready state, releasing the lease; the others
 *    wait on a durable timer and read again. A lease past its deadline goes to the next run that
 *    asks, so a dead or stuck holder never blocks a vault. 20 VMs in a region still cause one vault,
 *    one KEK, one event subscription and one Entra app.
 *  - `vaultWaiters` (key = vault name): orchestrations waiting for a secret in that vault, with the
 *    VM's hostname, so `secretEvents` can raise `SecretStored` to exactly the right instance.
 *    The hostname is ARM's `osProfile.computerName` when the VM has one, else derived from the VM
 *    name (Azure's default computer name; Windows keeps its first 15 characters).
 */
import { formatKeyVaultResourceId } from '../core/resource-ids';
import type { VaultReady, VmFacts, Waiter, WaitersState } from './contracts';

export interface EntityOperation {
  name: string;
  input: unknown;
}

/** Result of one entity operation: the new state (undefined = delete) and the value returned to the caller. */
export interface EntityStep<S> {
  state: S | undefined;
  result?: unknown;
}

/** Who provisions the vault right now, and until when (ISO 8601, from the holder's orchestration clock). */
export interface VaultLease {
  holder: string;
  until: string;
}

/** State of the `vault` entity: the ready state once some run provisioned it, and the current lease. */
export type VaultEntityState = Partial<VaultReady> & { lease?: VaultLease };

/** `acquire` input: the caller's instance id, its orchestration time and the lease deadline it asks for. */
export interface AcquireVaultLease {
  holder: string;
  now: string;
  until: string;
}

/** `acquire` result: the lease (granted, or who holds it until when) and the ready state as it stands. */
export type AcquireVaultLeaseResult =
  { granted: true; ready: VaultReady | null } | { granted: false; lease: VaultLease; ready: VaultReady | null };

/** `set` input: the state the holder provisioned; the holder's lease is released in the same operation. */
export interface SetVaultReady {
  holder: string;
  ready: VaultReady;
}

export function vaultEntityStep(state: VaultEntityState | undefined, op: EntityOperation): EntityStep<VaultEntityState> {
  switch (op.name) {
    case 'get':
      return { state, result: readyOf(state) };
    case 'acquire': {
      const input = leaseInput(op.input);
      const lease = state?.lease;
      // Free, already ours, or past its deadline by the caller's clock (the holder died or overran).
      if (!lease || lease.holder === input.holder || Date.parse(lease.until) <= Date.parse(input.now)) {
        return {
          state: { ...(state ?? {}), lease: { holder: input.holder, until: input.until } },
          result: { granted: true, ready: readyOf(state) } satisfies AcquireVaultLeaseResult,
        };
      }
      return { state, result: { granted: false, lease, ready: readyOf(state) } satisfies AcquireVaultLeaseResult };
    }
    case 'set': {
      const input = op.input as Partial<SetVaultReady> | undefined;
      if (!input || typeof input.holder !== 'string' || !input.ready || typeof input.ready !== 'object' || !input.ready.vault)
        throw new Error('vault entity: "set" needs { holder, ready } with ready.vault');
      // The holder started from the ready state it was granted with, so its value replaces the old one
      // (stale fields of a vault that no longer matches do not linger). A holder that lost its lease may
      // still finish (its activities are idempotent, so its result is as good as anyone's), but it never
      // releases a lease someone else took over.
      return { state: withoutLeaseOf({ ...input.ready }, state?.lease, input.holder), result: null };
    }
    case 'release': {
      const holder = (op.input as { holder?: unknown } | undefined)?.holder;
      if (typeof holder !== 'string') throw new Error('vault entity: "release" needs { holder }');
      return { state: withoutLeaseOf({ ...(state ?? {}) }, state?.lease, holder), result: null };
    }
    case 'discard':
      // Drops the ready state (a run found it naming another vault), keeping whoever holds the lease.
      return { state: state?.lease ? { lease: state.lease } : undefined, result: null };
    case 'reset':
    case 'delete':
      return { state: undefined, result: null };
    default:
      throw new Error(`vault entity: unknown operation "${op.name}" (expected get, acquire, set, release, discard or reset)`);
  }
}

function leaseInput(input: unknown): AcquireVaultLease {
  const i = input as Partial<AcquireVaultLease> | undefined;
  if (
    !i ||
    typeof i.holder !== 'string' ||
    i.holder === '' ||
    typeof i.now !== 'string' ||
    typeof i.until !== 'string' ||
    Number.isNaN(Date.parse(i.now)) ||
    Number.isNaN(Date.parse(i.until))
  )
    throw new Error('vault entity: "acquire" needs { holder, now, until } with ISO 8601 times');
  return { holder: i.holder, now: i.now, until: i.until };
}

function readyOf(state: VaultEntityState | undefined): VaultReady | null {
  if (!state?.vault) return null;
  const { lease: _lease, ...ready } = state;
  return ready as VaultReady;
}

function withoutLeaseOf(next: VaultEntityState, lease: VaultLease | undefined, holder: string): VaultEntityState | undefined {
  const { lease: _lease, ...rest } = next;
  const kept = lease && lease.holder !== holder ? { ...rest, lease } : rest;
  return Object.keys(kept).length === 0 ? undefined : kept;
}

/**
 * Why a cached ready state is not the vault this run computed, or undefined when it is: one of the
 * deterministic names (first choice or a fallback), in the configured resource group of the VM's
 * subscription (the managed vault group), with its URL and KEK inside that same vault. Entity state is
 * never trusted for targets: anyone holding the Durable system key can `set` it.
 */
export function vaultReadyMismatch(
  ready: VaultReady | null | undefined,
  expected: { subscriptionId: string; resourceGroup: string; names: readonly string[] },
): string | undefined {
  if (!ready?.vault || typeof ready.vault !== 'object') return 'it holds no vault';
  const { id: vaultId, name: vaultName, url: vaultUrl } = ready.vault;
  if (typeof vaultId !== 'string' || typeof vaultName !== 'string' || typeof vaultUrl !== 'string') return 'its vault is malformed';
  const name = vaultName.toLowerCase();
  if (!expected.names.some((n) => n.toLowerCase() === name)) return `vault ${vaultName} is not one of the names computed for this region`;
  const id = formatKeyVaultResourceId(expected.subscriptionId, expected.resourceGroup, vaultName);
  if (vaultId.toLowerCase() !== id.toLowerCase()) return `vault id ${vaultId} is outside the managed vault group ${id}`;
  let url: URL;
  try {
    url = new URL(vaultUrl);
  } catch {
    return `vault URL ${vaultUrl} is not a URL`;
  }
  if (url.protocol !== 'https:' || url.hostname.toLowerCase().split('.')[0] !== name)
    return `vault URL ${vaultUrl} is not vault ${vaultName}`;
  if (
    ready.kekUrl !== undefined &&
    (typeof ready.kekUrl !== 'string' || !ready.kekUrl.toLowerCase().startsWith(`${url.origin.toLowerCase()}/keys/`))
  )
    return `KEK ${String(ready.kekUrl)} is not in vault ${vaultName}`;
  return undefined;
}

/** Whether a cached ready state points at the vault this run computed (see vaultReadyMismatch). */
export function vaultReadyMatches(
  ready: VaultReady | null | undefined,
  expected: { subscriptionId: string; resourceGroup: string; names: readonly string[] },
): boolean {
  return vaultReadyMismatch(ready, expected) === undefined;
}

export function waitersEntityStep(state: WaitersState | undefined, op: EntityOperation): EntityStep<WaitersState> {
  const waiters = state?.waiters ?? [];
  switch (op.name) {
    case 'get':
      return { state, result: { waiters } };
    case 'register': {
      const waiter = op.input as Waiter;
      if (!waiter || typeof waiter.instanceId !== 'string' || typeof waiter.vmId !== 'string')
        throw new Error('vaultWaiters: "register" needs { instanceId, vmId, computerName }');
      const rest = waiters.filter((w) => w.instanceId !== waiter.instanceId);
      const entry: Waiter = { instanceId: waiter.instanceId, vmId: waiter.vmId, computerName: waiter.computerName ?? '' };
      if (waiter.hostnameSource) entry.hostnameSource = waiter.hostnameSource;
      if (waiter.osType === 'Windows' || waiter.osType === 'Linux') entry.osType = waiter.osType;
      return { state: { waiters: [...rest, entry] }, result: null };
    }
    case 'unregister': {
      const instanceId = (op.input as { instanceId?: string } | undefined)?.instanceId;
      const rest = waiters.filter((w) => w.instanceId !== instanceId);
      return { state: rest.length === 0 ? undefined : { waiters: rest }, result: null };
    }
    default:
      throw new Error(`vaultWaiters entity: unknown operation "${op.name}" (expected get, register or unregister)`);
  }
}

/**
 * The waiter entry an orchestration registers for its VM: ARM's computerName when known, else the
 * VM name (Azure's default computer name; Windows cuts it to 15 characters).
 */
export function waiterFor(instanceId: string, vm: Pick<VmFacts, 'id' | 'name' | 'osType' | 'computerName'>): Waiter {
  if (vm.computerName) return { instanceId, vmId: vm.id, computerName: vm.computerName, hostnameSource: 'os-profile', osType: vm.osType };
  return {
    instanceId,
    vmId: vm.id,
    computerName: vm.osType === 'Windows' ? vm.name.slice(0, 15) : vm.name,
    hostnameSource: 'vm-name',
    osType: vm.osType,
  };
}

/** Whether a waiter's hostname is the one in a secret's `MachineName` tag (both lower-cased, trimmed). */
function hostnameMatches(waiter: Waiter, machineName: string): boolean {
  const candidate = waiter.computerName.trim().toLowerCase();
  if (candidate === '') return false;
  if (candidate === machineName) return true;
  // A name derived from the VM name is a guess: the guest may hold only its first 15 characters
  // (Windows NetBIOS). ARM's computerName is what the guest was given, so it must match exactly.
  return (waiter.hostnameSource ?? 'vm-name') === 'vm-name' && candidate.slice(0, 15) === machineName.slice(0, 15);
}

/**
 * The waiter a secret belongs to, by ADE's `MachineName` tag (the guest hostname; case-insensitive).
 * Exactly one match → that waiter; none or several → undefined (the waiters' fallback polling covers it).
 * A missing or empty tag comes only from Linux guests (dual-pass never writes it; single-pass empties a
 * hostname outside `[\w-]`): it matches when a single waiter on the vault is not a Windows VM.
 */
export function matchWaiter(waiters: readonly Waiter[], machineName: string | undefined): { waiter?: Waiter; why: string } {
  const name = (machineName ?? '').trim().toLowerCase();
  if (waiters.length === 0) return { why: 'no orchestration is waiting on this vault' };
  if (name === '') {
    const candidates = waiters.filter((w) => w.osType !== 'Windows');
    return candidates.length === 1
      ? { waiter: candidates[0], why: 'MachineName tag missing or empty; the only non-Windows waiter on the vault' }
      : { why: `MachineName tag missing or empty and ${candidates.length} non-Windows orchestrations wait on the vault` };
  }
  const matches = waiters.filter((w) => hostnameMatches(w, name));
  if (matches.length === 1) return { waiter: matches[0], why: 'MachineName matches' };
  if (matches.length === 0) return { why: `no waiter has hostname "${machineName}"` };
  return { why: `${matches.length} waiters have hostname "${machineName}"` };
}
