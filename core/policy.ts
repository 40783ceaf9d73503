/**
 * EncryptionPolicy: everything an orchestration needs to decide and act, as plain JSON.
 *
 * Trigger functions build it once from configuration (core/config.ts `toEncryptionPolicy`) and pass
 * it as orchestration input; orchestrators never read environment variables (replay must be
 * deterministic, and a setting changed mid-flight must not change a running orchestration).
 */
import { z } from 'zod';
import { ValidationError } from './errors';
import { isValidGlob } from './glob';
import { isGuid, isResourceGroupName } from './resource-ids';

/** Bump when the shape or meaning of a field changes, so orchestrations can reject stale inputs. */
export const POLICY_VERSION = 1;

/** The two Azure Disk Encryption modes: dual-pass with an Entra app, and single-pass. */
export type AdeMode = 'aad' | 'single-pass';
/**
 * ADE (`aad`, `single-pass`), or encryption at host for new VMs (the platform encrypts at the VM host; ADE and
 * encryption at host cannot be combined: https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions).
 */
export type EncryptionMode = AdeMode | 'encryption-at-host';
export const ENCRYPTION_MODES: readonly EncryptionMode[] = ['aad', 'single-pass', 'encryption-at-host'];
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

export interface PolicyScope {
  /** Lower-case, de-duplicated subscription GUIDs (with ADE_SCOPE's management groups: those discovered under them too). */
  subscriptions: string[];
  /** ADE_SCOPE management groups (names) whose subscriptions are in scope; absent when none. */
  managementGroups?: string[];
  /** Glob patterns (`*`, `?`), case-insensitive. */
  includeResourceGroups: string[];
  excludeResourceGroups: string[];
  exclusionTag: ExclusionTag;
  osFilter: OsFilter;
}

export interface EncryptionPolicy {
  policyVersion: typeof POLICY_VERSION;
  mode: EncryptionMode;
  vault: {
    strategy: VaultStrategy;
    resourceGroup: string;
    namePrefix: string;
    /** Per-deployment salt hashed into vault names (ADE_VAULT_NAME_SALT); absent = unsalted names. */
    nameSalt?: string;
    softDeleteRetentionDays: number;
    purgeProtection: true;
  };
  kek: {
    enabled: boolean;
    size: KekSize;
    algorithm: KekAlgorithm;
  };
  volumeType: VolumeType;
  scope: PolicyScope;
  dryRun: boolean;
  timeouts: {
    secretEventTimeoutMinutes: number;
    orchestrationTimeoutMinutes: number;
    fallbackPollSeconds: number;
  };
  tagOutcome: boolean;
}

// ---------------------------------------------------------------------------------------------
// The rules. One place: core/config validates the settings with them, and the schema below
// validates a policy that arrives as orchestration input (JSON from durable history) with them.

/** Vault name prefix: 2–8 chars, a lower-case letter first (vault names allow 24 chars in all). */
export const VAULT_NAME_PREFIX = /^[a-z][a-z0-9]{1,7}$/;
/** Vault name salt: 8–64 letters, digits or hyphens (ARM's uniqueString gives 13 lower-case characters). */
export const VAULT_NAME_SALT = /^[A-Za-z0-9-]{8,64}$/;

/** Inclusive ranges of the numeric fields. */
export const POLICY_LIMITS = {
  softDeleteRetentionDays: { min: 7, max: 90 },
  secretEventTimeoutMinutes: { min: 5, max: 1440 },
  orchestrationTimeoutMinutes: { min: 15, max: 10080 },
  fallbackPollSeconds: { min: 30, max: 3600 },
} as const;

/** ARM tag names may not contain these characters; names are 1–512 chars, values up to 256. */
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;
const TAG_NAME_MAX = 512;
export const TAG_VALUE_MAX = 256;

export function isValidTagName(name: string): boolean {
  return name !== '' && name.length <= TAG_NAME_MAX && !TAG_NAME_FORBIDDEN.test(name);
}

/** The fields the cross-field rules read; any may be absent (it was invalid on its own). */
export interface PolicyRuleFields {
  kekSize?: KekSize;
  osFilter?: OsFilter;
  volumeType?: VolumeType;
  secretEventTimeoutMinutes?: number;
  orchestrationTimeoutMinutes?: number;
  fallbackPollSeconds?: number;
}
export type PolicyRuleField = keyof PolicyRuleFields;

/**
 * Rules that involve more than one field. `nameOf` names a field the way the caller's user knows it
 * (a setting name, or a path in the policy), in the messages too.
 */
export function policyConflicts(
  f: PolicyRuleFields,
  nameOf: (field: PolicyRuleField) => string,
): Array<{ field: PolicyRuleField; message: string }> {
  const conflicts: Array<{ field: PolicyRuleField; message: string }> = [];
  const os = nameOf('osFilter');
  if (f.kekSize === 2048 && f.osFilter !== undefined && f.osFilter !== 'linux') {
    conflicts.push({
      field: 'kekSize',
      message:
        `2048 is only allowed with ${os}=linux (${os} is "${f.osFilter}"): ` +
        'Windows Server 2022 and Windows 11 do not work with RSA-2048 KEKs; use 3072 or 4096',
    });
  }
  if (f.volumeType === 'Data' && f.osFilter !== undefined && f.osFilter !== 'linux') {
    conflicts.push({
      field: 'volumeType',
      message:
        `"Data" requires ${os}=linux (${os} is "${f.osFilter}"): ` +
        'Windows can encrypt the OS volume alone or all volumes, never data volumes alone',
    });
  }
  const secret = f.secretEventTimeoutMinutes;
  const total = f.orchestrationTimeoutMinutes;
  if (secret !== undefined && total !== undefined && total <= secret) {
    conflicts.push({
      field: 'orchestrationTimeoutMinutes',
      message:
        `must be greater than ${nameOf('secretEventTimeoutMinutes')} (${total} ≤ ${secret}); ` +
        'the whole run must outlast its wait for the secret event',
    });
  }
  const poll = f.fallbackPollSeconds;
  if (poll !== undefined && secret !== undefined && poll >= secret * 60) {
    conflicts.push({
      field: 'fallbackPollSeconds',
      message:
        `must be shorter than ${nameOf('secretEventTimeoutMinutes')} (${poll} s ≥ ${secret} min), ` +
        'otherwise the fallback never polls before the wait ends',
    });
  }
  return conflicts;
}

const POLICY_PATHS: Record<PolicyRuleField, Array<string>> = {
  kekSize: ['kek', 'size'],
  osFilter: ['scope', 'osFilter'],
  volumeType: ['volumeType'],
  secretEventTimeoutMinutes: ['timeouts', 'secretEventTimeoutMinutes'],
  orchestrationTimeoutMinutes: ['timeouts', 'orchestrationTimeoutMinutes'],
  fallbackPollSeconds: ['timeouts', 'fallbackPollSeconds'],
};

const within = (range: { min: number; max: number }) => z.number().int().min(range.min).max(range.max);

/**
 * Floors of the timeouts a local host may use (ADE_LOCAL_*_SECONDS, which the configuration refuses in Azure): short
 * waits against the simulator's sped-up operations, on the one real clock. Azure's ranges are POLICY_LIMITS.
 */
export const LOCAL_TIMING_FLOORS = {
  secretEventTimeoutMinutes: 10 / 60,
  orchestrationTimeoutMinutes: 20 / 60,
  fallbackPollSeconds: 1,
} as const;
const timing = (field: keyof typeof LOCAL_TIMING_FLOORS) => z.number().min(LOCAL_TIMING_FLOORS[field]).max(POLICY_LIMITS[field].max);

const policySchema = z
  .object({
    policyVersion: z.literal(POLICY_VERSION),
    mode: z.enum(['aad', 'single-pass', 'encryption-at-host']),
    vault: z.object({
      strategy: z.enum(['per-region', 'per-vm']),
      resourceGroup: z.string().refine(isResourceGroupName, 'expected a resource group name'),
      namePrefix: z.string().regex(VAULT_NAME_PREFIX),
      nameSalt: z.string().regex(VAULT_NAME_SALT).optional(),
      softDeleteRetentionDays: within(POLICY_LIMITS.softDeleteRetentionDays),
      purgeProtection: z.literal(true),
    }),
    kek: z.object({
      enabled: z.boolean(),
      size: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]),
      algorithm: z.literal('RSA-OAEP'),
    }),
    volumeType: z.enum(['All', 'OS', 'Data']),
    scope: z.object({
      subscriptions: z.array(z.string().refine(isGuid, 'expected a subscription GUID')).min(1),
      managementGroups: z.array(z.string().refine(isManagementGroupName, 'expected a management group name')).optional(),
      includeResourceGroups: z.array(z.string().refine(isValidGlob, 'expected a resource-group pattern')).min(1),
      excludeResourceGroups: z.array(z.string().refine(isValidGlob, 'expected a resource-group pattern')),
      exclusionTag: z.object({
        name: z.string().refine(isValidTagName, 'expected a tag name'),
        value: z.string().min(1).max(TAG_VALUE_MAX).optional(),
      }),
      osFilter: z.enum(['all', 'windows', 'linux']),
    }),
    dryRun: z.boolean(),
    timeouts: z.object({
      secretEventTimeoutMinutes: timing('secretEventTimeoutMinutes'),
      orchestrationTimeoutMinutes: timing('orchestrationTimeoutMinutes'),
      fallbackPollSeconds: timing('fallbackPollSeconds').int(),
    }),
    tagOutcome: z.boolean(),
  })
  .superRefine((p, ctx) => {
    const fields: PolicyRuleFields = { kekSize: p.kek.size, osFilter: p.scope.osFilter, volumeType: p.volumeType, ...p.timeouts };
    for (const c of policyConflicts(fields, (field) => POLICY_PATHS[field].join('.'))) {
      ctx.addIssue({ code: 'custom', path: POLICY_PATHS[c.field], message: c.message });
    }
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

/** A management group name (id): 1–90 letters, digits, `_`, `(`, `)`, `-`, `.`. */
export function isManagementGroupName(name: string): boolean {
  return /^[A-Za-z0-9_().-]{1,90}$/.test(name);
}

/** Whether the policy covers a subscription (ADE_SUBSCRIPTIONS; ids compare case-insensitively). */
export function coversSubscription(policy: Pick<EncryptionPolicy, 'scope'>, subscriptionId: string): boolean {
  const wanted = subscriptionId.toLowerCase();
  return policy.scope.subscriptions.some((s) => s.toLowerCase() === wanted);
}

/** Why a subscription is out of the policy's scope, or undefined when it is in scope. */
export function subscriptionScopeProblem(policy: Pick<EncryptionPolicy, 'scope'>, subscriptionId: string): string | undefined {
  return coversSubscription(policy, subscriptionId)
    ? undefined
    : `subscription ${subscriptionId.toLowerCase()} is not in ADE_SUBSCRIPTIONS${
        policy.scope.managementGroups?.length
          ? `, ADE_SCOPE or under its management groups (${policy.scope.managementGroups.join(', ')})`
          : ''
      }`;
}
