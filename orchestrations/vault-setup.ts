/**
 * Deterministic names of what ade-autopilot creates per vault (pure; used by the orchestrator and
 * the activities alike, so a re-run finds what an earlier run created).
 */
import { EVENT_ROUTES } from '../core/events/routes';

/** Only new secret versions matter: ADE writes one per volume. */
export const SECRET_EVENT_TYPES: readonly string[] = EVENT_ROUTES.secretEvents.eventTypes;

/** The key encryption key in each dedicated vault. */
export const KEK_NAME = 'ade-kek';

/** Event subscription on the vault's system topic that feeds secretEvents (3–64 chars, letters, digits, hyphens). */
export function secretEventSubscriptionName(vaultName: string): string {
  return `ade-secrets-${vaultName.toLowerCase()}`.slice(0, 64);
}
