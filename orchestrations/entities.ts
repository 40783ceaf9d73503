/**
 * Durable entities of the pipeline (pure state machines; no I/O):
 *
 *  - `vault` (key = vault name): the vault's ready state (vault URL and id, versioned KEK URL, the
 *    aad app ids, whether the secret-event subscription exists). Written by the one orchestration
 *    that holds the entity's lock while provisioning; everyone else only reads it, so 20 VMs in a
 *    region cause one vault, one KEK, one event subscription and one Entra app.
 *  - `vaultWaiters` (key = vault name): orchestrations waiting for a secret in that vault, with the
 *    VM's hostname, so `secretEvents` can raise `SecretStored` to exactly the right instance.
 *    The hostname is ARM's `osProfile.computerName` when the VM has one, else derived from the VM
 *    name (Azure's default computer name; Windows keeps its first 15 characters).
 */
import type { EntraAppInfo, VaultReady, VmFacts, Waiter, WaitersState } from './contracts';

export interface EntityOperation {
  name: string;
  input: unknown;
}

/** Result of one entity operation: the new state (undefined = delete) and the value returned to the caller. */
export interface EntityStep<S> {
  state: S | undefined;
  result?: unknown;
}

export function vaultEntityStep(state: VaultReady | undefined, op: EntityOperation): EntityStep<VaultReady> {
  switch (op.name) {
    case 'get':
      return { state, result: state ?? null };
    case 'set':
      return { state: mergeVaultReady(state, op.input as VaultReady), result: null };
    case 'reset':
    case 'delete':
      return { state: undefined, result: null };
    default:
      throw new Error(`vault entity: unknown operation "${op.name}" (expected get, set or reset)`);
  }
}

function mergeVaultReady(current: VaultReady | undefined, next: VaultReady): VaultReady {
  if (!next || typeof next !== 'object' || !next.vault) throw new Error('vault entity: "set" needs a VaultReady value with a vault');
  const merged: VaultReady = { ...(current ?? {}), ...next };
  const app: EntraAppInfo | undefined = next.app ?? current?.app;
  if (app) merged.app = app;
  return merged;
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
  if (vm.computerName) return { instanceId, vmId: vm.id, computerName: vm.computerName, hostnameSource: 'os-profile' };
  return { instanceId, vmId: vm.id, computerName: vm.osType === 'Windows' ? vm.name.slice(0, 15) : vm.name, hostnameSource: 'vm-name' };
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
 * An empty tag (Linux may leave it empty) matches only when a single orchestration waits on the vault.
 */
export function matchWaiter(waiters: readonly Waiter[], machineName: string | undefined): { waiter?: Waiter; why: string } {
  const name = (machineName ?? '').trim().toLowerCase();
  if (waiters.length === 0) return { why: 'no orchestration is waiting on this vault' };
  if (name === '') {
    return waiters.length === 1
      ? { waiter: waiters[0], why: 'MachineName tag empty; the only waiter on the vault' }
      : { why: `MachineName tag empty and ${waiters.length} orchestrations wait on the vault` };
  }
  const matches = waiters.filter((w) => hostnameMatches(w, name));
  if (matches.length === 1) return { waiter: matches[0], why: 'MachineName matches' };
  if (matches.length === 0) return { why: `no waiter has hostname "${machineName}"` };
  return { why: `${matches.length} waiters have hostname "${machineName}"` };
}
