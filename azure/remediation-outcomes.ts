/**
 * Outcome event publisher over `EventGridPublisherClient` (Event Grid schema) for the optional
 * custom topic (ADE_OUTCOME_TOPIC_ENDPOINT). Authenticates with the app's credential (Entra ID);
 * permission: `EventGrid Data Sender` on the topic (`Microsoft.EventGrid/topics/events/send/action`).
 * Retries are the SDK's (429/5xx with backoff); errors are mapped to core errors.
 */
import type { TokenCredential } from '@azure/core-auth';
import { EventGridPublisherClient } from '@azure/eventgrid';
import type { OutcomeEvent } from '../core/remediation/outcomes';
import { mapAzureError } from './errors';

export interface OutcomePublisherPort {
  publish(events: OutcomeEvent[]): Promise<void>;
}

export function createOutcomePublisher(endpoint: string, credential: TokenCredential): OutcomePublisherPort {
  const client = new EventGridPublisherClient(endpoint, 'EventGrid', credential);
  return {
    async publish(events) {
      if (events.length === 0) return;
      try {
        await client.send(
          events.map((e) => ({
            id: e.id,
            eventType: e.eventType,
            subject: e.subject,
            eventTime: new Date(e.eventTime),
            dataVersion: e.dataVersion,
            data: e.data,
          })),
        );
      } catch (error) {
        throw mapAzureError(error, `publishing ${events.length} outcome event(s) to ${new URL(endpoint).host}`);
      }
    },
  };
}
