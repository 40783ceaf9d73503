/**
 * The credential janitor: removes the short-lived `ade-autopilot` passwords that no live run holds from the per-region
 * Entra applications this app owns. A crash between Graph's `addPassword` and the end of its activity, a Graph retry of a
 * committed `addPassword`, or a failed `removePassword` leaves one behind; each password names the orchestration
 * instance that added it (core/names.ts `credentialDisplayName`), so the janitor keeps exactly those whose run is still
 * active and removes the rest. A password without a holder is removed once it is older than the longest a run holds one.
 */
import { credentialHolder } from '../../core/names';
import type { DirectoryPort } from '../../azure/ports';
import type { Log } from './log';

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

/** Prefix of the per-region applications' display names (core/names.ts `entraAppDisplayName`). */
export const APP_NAME_PREFIX = 'ade-autopilot-';

export interface JanitorDeps {
  directory: Pick<DirectoryPort, 'listOwnedAppPasswords' | 'removePassword'>;
  /** Runtime status of an orchestration instance (`Unknown` when there is none). */
  runtimeStatus(instanceId: string): Promise<string>;
  /** The longest a run holds a password (its lifetime): older ones without a holder are stale. */
  maxHoldMs: number;
  now(): number;
  log: Log;
}

export interface JanitorReport {
  seen: number;
  kept: number;
  removed: number;
  failed: number;
}

export async function removeStaleCredentials(deps: JanitorDeps): Promise<JanitorReport> {
  const passwords = await deps.directory.listOwnedAppPasswords(APP_NAME_PREFIX);
  const report: JanitorReport = { seen: 0, kept: 0, removed: 0, failed: 0 };
  const statuses = new Map<string, Promise<string>>();
  for (const password of passwords) {
    const holder = credentialHolder(password.displayName);
    if (holder === null) continue; // someone else's password on our app: never touched
    report.seen++;
    let stale: boolean;
    if (holder !== undefined) {
      if (!statuses.has(holder)) statuses.set(holder, deps.runtimeStatus(holder));
      stale = !ACTIVE.has(await statuses.get(holder)!);
    } else {
      const started = Date.parse(password.startDateTime ?? '');
      const ends = Date.parse(password.endDateTime ?? '');
      stale = (Number.isFinite(ends) && ends <= deps.now()) || (Number.isFinite(started) && deps.now() - started > deps.maxHoldMs);
    }
    if (!stale) {
      report.kept++;
      continue;
    }
    try {
      await deps.directory.removePassword(password.appObjectId, password.keyId);
      report.removed++;
      deps.log('info', `credentialJanitor: removed stale password ${password.keyId} from ${password.appDisplayName}`, {
        holder: holder ?? 'none',
      });
    } catch (error) {
      report.failed++;
      deps.log('warn', `credentialJanitor: could not remove password ${password.keyId} from ${password.appDisplayName}`, {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  deps.log(
    'info',
    `credentialJanitor: ${report.seen} ade-autopilot passwords, ${report.removed} removed, ${report.kept} held by live runs`,
    {
      ...report,
    },
  );
  return report;
}
