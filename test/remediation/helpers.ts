import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import type { EncryptionPolicy } from '../../core/policy';
import type { VmSnapshot } from '../../core/vm';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'remediation');
export const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

export function loadVm(name: string): VmSnapshot {
  return fixture<VmSnapshot>(`vms/${name}.json`);
}

export function basePolicy(env: Record<string, string> = {}): EncryptionPolicy {
  return toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_ENCRYPTION_MODE: 'single-pass', ...env }));
}

/** Objects merge recursively, arrays and scalars replace, null deletes the key. */
export function merge<T>(base: T, patch: unknown): T {
  if (patch === undefined) return base;
  if (
    patch === null ||
    typeof patch !== 'object' ||
    Array.isArray(patch) ||
    base === null ||
    typeof base !== 'object' ||
    Array.isArray(base)
  )
    return patch as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = merge(out[key], value);
  }
  return out as T;
}

/** The VM with its ADE extension's instance view replaced by one reporting `message` as a failure. */
export function withExtensionFailure(vm: VmSnapshot, message: string): VmSnapshot {
  const copy = structuredClone(vm);
  const view = copy.instanceView!.extensions![0];
  view.statuses = [{ code: 'ProvisioningState/failed/52', level: 'Error', displayStatus: 'Provisioning failed', message }];
  delete view.substatuses;
  return copy;
}
