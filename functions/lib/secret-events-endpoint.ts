/**
 * Where the per-vault Event Grid subscriptions deliver Key Vault events: the `secretEvents` function.
 *
 *  - `ADE_SECRET_EVENTS_WEBHOOK_URL` (local host / simulator, or any explicit endpoint): a WebHook
 *    destination, e.g. `http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=secretEvents&code=<key>`.
 *    The URL may carry the Event Grid system key, so it is never logged or put in durable history.
 *  - otherwise, in Azure: an AzureFunction destination, the app's own `secretEvents` function under
 *    `ADE_FUNCTION_APP_RESOURCE_ID` (read by core/config as `functionApp`; infra/main.json sets it). The
 *    platform's WEBSITE_* variables cannot stand in: Flex Consumption sets no WEBSITE_RESOURCE_GROUP.
 *  - neither: undefined; the ensureSecretEventSubscription activity then fails the run with the reason
 *    (core/config already refuses to start on the platform without one).
 */
import type { EventDestination } from '../../azure/ports';
import type { AppConfig } from '../../core/config';

export const SECRET_EVENTS_FUNCTION = 'secretEvents';

/** Both inputs come from core/config `loadConfig` (which validated the webhook URL). */
export function secretEventsDestination(config: Pick<AppConfig, 'secretEventsWebhookUrl' | 'functionApp'>): EventDestination | undefined {
  if (config.secretEventsWebhookUrl) return { kind: 'webhook', endpointUrl: config.secretEventsWebhookUrl, maxEventsPerBatch: 1 };
  const site = config.functionApp;
  if (site) {
    return {
      kind: 'azure-function',
      resourceId:
        `/subscriptions/${site.subscriptionId}/resourceGroups/${site.resourceGroup}` +
        `/providers/Microsoft.Web/sites/${site.siteName}/functions/${SECRET_EVENTS_FUNCTION}`,
      maxEventsPerBatch: 1,
    };
  }
  return undefined;
}
