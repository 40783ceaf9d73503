/**
 * The dedicated-vault lease flow, one step for every encryption orchestrator (encryptVm, encryptVmss): the vault (+ KEK,
 * event subscription, and in aad mode the Entra app) is provisioned once per vault by the run holding the `vault`
 * entity's lease (no critical sections in the bundled Durable extension; see entities.ts). Cached state is verified
 * before use: it must name one of the vaults this run computed (in the managed vault group, KEK inside it); anything
 * else fails the run with the reason, and the state is discarded so the next run provisions afresh. Waiting is bounded:
 * a holder that died or overran loses the lease to the next run that asks, and a run gives up after VAULT_WAIT_MAX_MS
 * (or at its own deadline) with the reason. Resource Manager refusing the vault group itself (403 AuthorizationFailed: the
 * group's roles are granted per subscription by infra/main.json) throws VaultRolesMissing, which both orchestrators end
 * `action-required` with the operator's next step. Deterministic: time is context.df.currentUtcDateTime, everything that
 * touches Azure is an activity.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { KEK_NAME } from '../core/names';
import type { EncryptionPolicy } from '../core/policy';
import { isVaultGroupRolesMissing, vaultGroupRolesNextStep } from '../core/remediation/vault-drift';
import { ACTIVITY, ENTITY, type EntraAppInfo, type VaultReady } from './contracts';
import { vaultReadyMismatch, type AcquireVaultLease, type AcquireVaultLeaseResult, type SetVaultReady } from './entities';
import { callActivity, StepFailure, type Step } from './steps';

const VAULT_LEASE_MS = 10 * 60_000;
const VAULT_WAIT_MAX_MS = 30 * 60_000;
const VAULT_WAIT_FIRST_MS = 5_000;
const VAULT_WAIT_MAX_INTERVAL_MS = 60_000;

export interface VaultTarget {
  /** The VM or scale set the vault is for (its names are computed from it). */
  id: string;
  subscriptionId: string;
  location: string;
}

export interface VaultStepOptions {
  /** aad (dual-pass) also needs the per-vault Entra app; single-pass (scale sets support nothing else) does not. */
  mode: 'aad' | 'single-pass';
  /** The run's own deadline: waiting for another holder never goes past it. */
  deadline: number;
  /** Progress while another run holds the lease (the orchestrator's custom status). */
  onWait: (detail: string) => void;
  /** Called when this run provisions (it holds the lease): cached-state repairs then no longer apply. */
  onProvision?: () => void;
  /** What the vault is for, as the operator's next step names it (VaultRolesMissing); default VM. */
  targetKind?: 'VM' | 'scale set';
}

/**
 * The vault group's roles are missing in the target's subscription (Resource Manager refused the vault step with 403
 * AuthorizationFailed): the lease is released (a vault created before a refused event subscription stays for the next
 * run); the run ends action-required with `operatorAction` (core/remediation/vault-drift.ts vaultGroupRolesNextStep), not
 * failed, and retries nothing.
 */
export class VaultRolesMissing extends StepFailure {
  constructor(
    reason: string,
    readonly operatorAction: string,
  ) {
    super(reason, 'permission', 'AuthorizationFailed');
  }
}

export function* ensureVault(
  context: OrchestrationContext,
  policy: EncryptionPolicy,
  names: string[],
  target: VaultTarget,
  options: VaultStepOptions,
): Step<VaultReady> {
  const { mode, deadline, onWait } = options;
  const now = (): number => context.df.currentUtcDateTime.getTime();
  const expected = { subscriptionId: target.subscriptionId, resourceGroup: policy.vault.resourceGroup, names };
  const entity = new df.EntityId(ENTITY.vault, names[0]!);
  const holder = context.df.instanceId;
  const verified = (ready: VaultReady | null | undefined, granted: boolean): VaultReady | undefined => {
    if (!ready) return undefined;
    const why = vaultReadyMismatch(ready, expected);
    if (why === undefined) return ready;
    context.df.signalEntity(entity, 'discard');
    if (granted) context.df.signalEntity(entity, 'release', { holder });
    throw new StepFailure(
      `The vault entity ${names[0]} held state this run does not trust (${why}); nothing was written to that vault and the state ` +
        `was discarded (the next run provisions afresh). Only a holder of the Durable system key can set entity state.`,
    );
  };
  const satisfied = (ready: VaultReady | undefined): ready is VaultReady =>
    Boolean(ready && (!policy.kek.enabled || ready.kekUrl) && (mode !== 'aad' || ready.app) && ready.secretEvents);
  const known = verified((yield context.df.callEntity(entity, 'get')) as VaultReady | null, false);
  if (satisfied(known)) return known;

  const waitStarted = now();
  const waitUntil = Math.min(waitStarted + VAULT_WAIT_MAX_MS, deadline);
  let interval = VAULT_WAIT_FIRST_MS;
  for (;;) {
    const request: AcquireVaultLease = {
      holder,
      now: new Date(now()).toISOString(),
      until: new Date(now() + VAULT_LEASE_MS).toISOString(),
    };
    const leased = (yield context.df.callEntity(entity, 'acquire', request)) as AcquireVaultLeaseResult;
    const ready = verified(leased.ready, leased.granted);
    if (leased.granted) {
      if (satisfied(ready)) {
        context.df.signalEntity(entity, 'release', { holder });
        return ready;
      }
      try {
        options.onProvision?.();
        const next = yield* provision(ready);
        yield context.df.callEntity(entity, 'set', { holder, ready: next } satisfies SetVaultReady);
        return next;
      } catch (error) {
        // Let the next run take over at once instead of waiting for the deadline.
        context.df.signalEntity(entity, 'release', { holder });
        // Resource Manager refused the vault group: its roles are granted per subscription (infra/main.json), and this
        // subscription (found under an ADE_SCOPE management group, say) has none yet. The operator's move, not a retry.
        if (error instanceof StepFailure && isVaultGroupRolesMissing(error))
          throw new VaultRolesMissing(
            `The app holds no access to the vault group ${policy.vault.resourceGroup} in subscription ${target.subscriptionId} ` +
              `(${error.reason})`,
            vaultGroupRolesNextStep(target.subscriptionId, policy, options.targetKind ?? 'VM'),
          );
        throw error;
      }
    }
    if (satisfied(ready)) return ready;
    if (now() >= waitUntil)
      throw new StepFailure(
        `Vault ${names[0]} was still being prepared by ${leased.lease.holder} (lease until ${leased.lease.until}); gave up waiting ` +
          `after ${Math.round((now() - waitStarted) / 60_000)} min`,
      );
    onWait(`waiting for vault ${names[0]}, prepared by ${leased.lease.holder}`);
    // Wake up no later than the lease deadline, so a dead holder's lease is taken over promptly.
    yield context.df.createTimer(new Date(Math.min(now() + interval, Date.parse(leased.lease.until), waitUntil)));
    interval = Math.min(interval * 2, VAULT_WAIT_MAX_INTERVAL_MS);
  }

  /** The provisioning steps themselves (idempotent activities), starting from what is already known. */
  function* provision(current: VaultReady | undefined): Step<VaultReady> {
    const identity = yield* callActivity(context, ACTIVITY.resolveAutomationIdentity);
    let app: EntraAppInfo | undefined = current?.app;
    if (mode === 'aad' && !app) app = yield* callActivity(context, ACTIVITY.ensureEntraApp, { vaultName: names[0]! });
    const vault = yield* callActivity(context, ACTIVITY.ensureDiskEncryptionVault, {
      vmId: target.id,
      subscriptionId: target.subscriptionId,
      resourceGroup: policy.vault.resourceGroup,
      name: names[0]!,
      location: target.location,
      softDeleteRetentionDays: policy.vault.softDeleteRetentionDays,
      purgeProtection: policy.vault.purgeProtection,
      automation: identity,
      ...(app ? { servicePrincipalObjectId: app.servicePrincipalObjectId, appId: app.appId } : {}),
    });
    // A cached KEK or event subscription of another vault name (the first choice was taken since) does not carry over.
    const sameVault = current?.vault.name.toLowerCase() === vault.name.toLowerCase();
    const next: VaultReady = { ...(sameVault ? current : {}), vault: { id: vault.id, name: vault.name, url: vault.url } };
    if (app) next.app = app;
    if (policy.kek.enabled && !next.kekUrl) {
      const kek = yield* callActivity(context, ACTIVITY.ensureKek, {
        vaultId: vault.id,
        vaultUrl: vault.url,
        keyName: KEK_NAME,
        keySize: policy.kek.size,
      });
      next.kekUrl = kek.kekUrl;
    }
    if (!next.secretEvents) {
      const wired = yield* callActivity(context, ACTIVITY.ensureSecretEventSubscription, {
        vault: {
          ...next.vault,
          subscriptionId: target.subscriptionId,
          resourceGroup: policy.vault.resourceGroup,
          location: target.location,
        },
      });
      // Recorded only when the subscription exists; otherwise the next run tries again.
      next.secretEvents = wired.subscribed;
    }
    return next;
  }
}
