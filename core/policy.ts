/**
 * EncryptionPolicy: everything an orchestration needs to decide and act, as plain JSON.
 *
 * Trigger functions build it once from configuration (core/config.ts `toEncryptionPolicy`) and pass
 * it as orchestration input; orchestrators never read environment variables (replay must be
 * deterministic, and a setting changed mid-flight must not change a running orchestration).
 */

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
