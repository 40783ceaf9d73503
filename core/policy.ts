/**
 * EncryptionPolicy: everything an orchestration needs to decide and act, as plain JSON.
 *
 * Trigger functions build it once from configuration (core/config.ts `toEncryptionPolicy`) and pass
 * it as orchestration input; orchestrators never read environment variables (replay must be
 * deterministic, and a setting changed mid-flight must not change a running orchestration).
 */
import { z } from 'zod';
import { ValidationError } from './errors';

/** Bump when the shape or meaning of a field changes, so orchestrations can reject stale inputs. */
export const POLICY_VERSION = 1;

export type EncryptionMode = 'aad' | 'single-pass';
export type VaultStrategy = 'per-region' | 'per-vm';
export type VolumeType = 'All' | 'OS' | 'Data';
export type OsFilter = 'all' | 'windows' | 'linux';
export type KekSize = 2048 | 3072 | 4096;
export type KekAlgorithm = 'RSA-OAEP';

export interface ExclusionTag {
  /** Tag name, matched case-insensitively (ARM tag names are case-insensitive). */
  name: string;
  /** When absent, any value excludes the VM. Matched case-insensitively. */
  value?: string;
}

export interface EncryptionPolicy {
  policyVersion: typeof POLICY_VERSION;
  mode: EncryptionMode;
  vault: {
    strategy: VaultStrategy;
    resourceGroup: string;
    namePrefix: string;
    softDeleteRetentionDays: number;
    purgeProtection: true;
  };
  kek: {
    enabled: boolean;
    size: KekSize;
    algorithm: KekAlgorithm;
  };
  volumeType: VolumeType;
  scope: {
    /** Lower-case subscription GUIDs. */
    subscriptions: string[];
    /** Glob patterns (`*`, `?`), case-insensitive. */
    includeResourceGroups: string[];
    excludeResourceGroups: string[];
    exclusionTag: ExclusionTag;
    osFilter: OsFilter;
  };
  dryRun: boolean;
  timeouts: {
    secretEventTimeoutMinutes: number;
    orchestrationTimeoutMinutes: number;
    fallbackPollSeconds: number;
  };
  tagOutcome: boolean;
}

// ---------------------------------------------------------------------------------------------
// Validation of a policy that arrives as orchestration input (JSON from durable history).

const policySchema = z.object({
  policyVersion: z.literal(POLICY_VERSION),
  mode: z.enum(['aad', 'single-pass']),
  vault: z.object({
    strategy: z.enum(['per-region', 'per-vm']),
    resourceGroup: z.string().min(1).max(90),
    namePrefix: z.string().regex(/^[a-z][a-z0-9]{1,7}$/),
    softDeleteRetentionDays: z.number().int().min(7).max(90),
    purgeProtection: z.literal(true),
  }),
  kek: z.object({
    enabled: z.boolean(),
    size: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]),
    algorithm: z.literal('RSA-OAEP'),
  }),
  volumeType: z.enum(['All', 'OS', 'Data']),
  scope: z.object({
    subscriptions: z.array(z.string().regex(/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i)).min(1),
    includeResourceGroups: z.array(z.string().min(1)).min(1),
    excludeResourceGroups: z.array(z.string().min(1)),
    exclusionTag: z.object({ name: z.string().min(1), value: z.string().min(1).optional() }),
    osFilter: z.enum(['all', 'windows', 'linux']),
  }),
  dryRun: z.boolean(),
  timeouts: z.object({
    secretEventTimeoutMinutes: z.number().int().positive(),
    orchestrationTimeoutMinutes: z.number().int().positive(),
    fallbackPollSeconds: z.number().int().positive(),
  }),
  tagOutcome: z.boolean(),
});

/**
 * Checks an orchestration input really is an EncryptionPolicy of this version. A policy written by an
 * older deployment (different `policyVersion`) is rejected rather than half-understood.
 */
export function parseEncryptionPolicy(input: unknown, field = 'policy'): EncryptionPolicy {
  const result = policySchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${[field, ...i.path.map(String)].join('.')}: ${i.message}`);
  const first = result.error.issues[0];
  throw new ValidationError(`Invalid EncryptionPolicy: ${problems.join('; ')}`, {
    field: [field, ...(first?.path ?? []).map(String)].join('.'),
  });
}
