/**
 * Durable entities of the pipeline (pure state machines; no I/O):
 *
 *  - `vault` (key = vault name): the vault's ready state (vault URL and id, versioned KEK URL, the
 *    aad app ids, whether the secret-event subscription exists). Written by the one orchestration
 *    that holds the entity's lock while provisioning; everyone else only reads it, so 20 VMs in a
 *    region cause one vault, one KEK, one event subscription and one Entra app.
 *  - `vaultWaiters` (key = vault name): orchestrations waiting for a secret in that vault, with the
 *    VM's hostname, so `secretEvents` can raise `SecretStored` to exactly the right instance.
 */
import type { EntraAppInfo, VaultReady, Waiter, WaitersState } from './contracts';

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
      if (!waiter || typeof waiter.instanceId !== 'string' || typeof waiter.vmId !== 'string') throw new Error('vaultWaiters: "register" needs { instanceId, vmId, computerName }');
      const rest = waiters.filter((w) => w.instanceId !== waiter.instanceId);
      return { state: { waiters: [...rest, { instanceId: waiter.instanceId, vmId: waiter.vmId, computerName: waiter.computerName ?? '' }] }, result: null };
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
 * The waiter a secret belongs to, by ADE's `MachineName` tag (the guest hostname; case-insensitive).
 * Exactly one match → that waiter; none or several → undefined (the waiters' fallback polling covers it).
 * An empty tag (Linux may leave it empty) matches only when a single orchestration waits on the vault.
 */
export function matchWaiter(waiters: readonly Waiter[], machineName: string | undefined): { waiter?: Waiter; why: string } {
  const name = (machineName ?? '').trim().toLowerCase();
  if (waiters.length === 0) return { why: 'no orchestration is waiting on this vault' };
  if (name === '') {
    return waiters.length === 1 ? { waiter: waiters[0], why: 'MachineName tag empty; the only waiter on the vault' } : { why: `MachineName tag empty and ${waiters.length} orchestrations wait on the vault` };
  }
  const matches = waiters.filter((w) => {
    const candidate = w.computerName.trim().toLowerCase();
    // Windows hostnames are cut to 15 characters (NetBIOS); compare on that too.
    return candidate === name || candidate.slice(0, 15) === name.slice(0, 15);
  });
  if (matches.length === 1) return { waiter: matches[0], why: 'MachineName matches' };
  if (matches.length === 0) return { why: `no waiter has hostname "${machineName}"` };
  return { why: `${matches.length} waiters have hostname "${machineName}"` };
}
