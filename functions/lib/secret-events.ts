/**
 * The work behind `secretEvents`: correlate a new Key Vault secret version with the orchestration
 * waiting for it, and raise `SecretStored` to exactly that instance.
 *
 * Key Vault events carry no tags (https://learn.microsoft.com/azure/event-grid/event-schema-key-vault):
 * the secret version's tags are read with
 * list-level permission (never a get of the value). ADE's secrets carry `DiskEncryptionKeyFileName`;
 * `MachineName` (the guest hostname) picks the waiter. Anything unrelated, unmatched or ambiguous is
 * logged at debug level and accepted: the orchestrations' fallback polling covers it.
 */
import { EVENT_ROUTES, matchesRoute } from '../../core/events';
import { tagValue } from '../../core/vm';
import type { SecretVersionProperties } from '../../azure/ports';
import { matchWaiter } from '../../orchestrations/entities';
import { SECRET_STORED_EVENT, type SecretStoredEvent, type Waiter } from '../../orchestrations/contracts';
import { eventsOf } from './delivery';
import type { Log } from './log';
import { isInstanceNotFound } from './start';

export interface SecretEventsDeps {
  /** List-level read of the version's properties (tags, content type); undefined when it does not exist. */
  findSecretVersionProperties(secretUrl: string): Promise<SecretVersionProperties | undefined>;
  readWaiters(vaultName: string): Promise<Waiter[]>;
  raise(instanceId: string, eventName: string, payload: SecretStoredEvent): Promise<void>;
  log: Log;
}

export type SecretEventResult =
  { eventId: string; action: 'raised'; instanceId: string; vmId: string } | { eventId: string; action: 'ignored'; reason: string };

export async function handleSecretEvents(body: unknown, deps: SecretEventsDeps): Promise<SecretEventResult[]> {
  const { events } = eventsOf(body, 'secretEvents', deps.log);
  const results: SecretEventResult[] = [];
  for (const event of events) {
    const eventId = event.envelope.id;
    const ignore = (reason: string) => {
      deps.log('debug', `secretEvents: ignored event ${eventId}: ${reason}`);
      results.push({ eventId, action: 'ignored', reason });
    };
    if (event.kind !== 'key-vault' || !matchesRoute(EVENT_ROUTES.secretEvents, event)) {
      ignore(`not a new secret version (${event.eventType})`);
      continue;
    }
    const secretUrl = event.data.id;
    const vaultName = event.data.vaultName;
    const properties = await deps.findSecretVersionProperties(secretUrl);
    if (!properties) {
      ignore(`secret version ${secretUrl} was not found (deleted since?)`);
      continue;
    }
    if (tagValue(properties.tags, 'DiskEncryptionKeyFileName') === undefined) {
      ignore(`secret ${properties.name} is not an ADE secret (no DiskEncryptionKeyFileName tag)`);
      continue;
    }
    const waiters = await deps.readWaiters(vaultName);
    const machineName = tagValue(properties.tags, 'MachineName');
    const match = matchWaiter(waiters, machineName);
    if (!match.waiter) {
      ignore(`no single waiting orchestration for vault ${vaultName}: ${match.why}`);
      continue;
    }
    try {
      await deps.raise(match.waiter.instanceId, SECRET_STORED_EVENT, { secretUrl, vaultName });
    } catch (error) {
      // The instance is gone (purged); a stale waiter entry is harmless.
      if (isInstanceNotFound(error)) {
        ignore(`waiting instance ${match.waiter.instanceId} no longer exists`);
        continue;
      }
      throw error;
    }
    deps.log('info', `secretEvents: raised ${SECRET_STORED_EVENT} to ${match.waiter.instanceId} for ${match.waiter.vmId}`, { vaultName });
    results.push({ eventId, action: 'raised', instanceId: match.waiter.instanceId, vmId: match.waiter.vmId });
  }
  return results;
}
