/**
 * Deterministic instance ids for the remediation orchestrations, so that two drift signals for the
 * same VM (or vault) find the same instance and start one remediation, not two.
 */
import { createHash } from 'node:crypto';
import { orchestrationInstanceId } from '../names';
import { normaliseResourceId, parseResourceId } from '../resource-ids';

export function remediationInstanceId(vmId: string): string {
  return orchestrationInstanceId(vmId, 'remediate');
}

export function restoreInstanceId(vmId: string): string {
  return orchestrationInstanceId(vmId, 'restore');
}

/** `remediate-vault-<vault name>-<hash>`: vault names are already DNS-safe (≤ 24 chars). */
export function vaultRemediationInstanceId(vaultId: string): string {
  const id = parseResourceId(vaultId, 'vaultId');
  const hash = createHash('sha256')
    .update(`vault|${normaliseResourceId(id)}`)
    .digest('hex')
    .slice(0, 12);
  return `remediate-vault-${(id.names[0] ?? 'x').toLowerCase()}-${hash}`;
}

/** One fleet sweep of each kind at a time. */
export const SWEEP_INSTANCE_ID = { backfill: 'sweep-backfill', 'bek-health': 'sweep-bek-health' } as const;
