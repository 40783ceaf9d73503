/** Event Grid deliveries as the event handlers read them: usable events, and the malformed ones logged and named. */
import { parseDelivery, splitDelivery, type AdeEvent } from '../../core/events';
import type { Log } from './log';

/**
 * The events of a delivery. Malformed input never becomes valid on redelivery, so it is logged
 * (naming the field at fault) and returned as `malformed`, never thrown.
 */
export function eventsOf(body: unknown, handler: string, log: Log, what = 'event'): { events: AdeEvent[]; malformed: string[] } {
  const parsed = parseDelivery(body);
  if (!parsed.ok) {
    log('warn', `${handler}: dropped an unusable delivery: ${parsed.error.message}`);
    return { events: [], malformed: [parsed.error.message] };
  }
  const { events, errors } = splitDelivery(parsed.value);
  for (const error of errors) log('warn', `${handler}: dropped a malformed ${what}: ${error.message}`);
  return { events, malformed: errors.map((e) => e.message) };
}
