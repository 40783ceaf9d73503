/**
 * Where the per-vault Event Grid subscriptions deliver Key Vault events: the `secretEvents` function.
 *
 *  - `ADE_SECRET_EVENTS_WEBHOOK_URL` (local host / simulator, or any explicit endpoint): a WebHook
 *    destination, e.g. `http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=secretEvents&code=<key>`.
 *    The URL may carry the Event Grid system key, so it is never logged or put in durable history.
 *  - otherwise, in Azure: an AzureFunction destination whose resource id is derived from the
 *    platform's own settings (WEBSITE_OWNER_NAME = `<subscription>+<rg>-<region>webspace`,
 *    WEBSITE_RESOURCE_GROUP, WEBSITE_SITE_NAME), so infra needs no extra setting.
 *  - neither: undefined (no event subscriptions; runs complete through status polling).
 */
import type { EventDestination } from '../../azure/ports';
import { ValidationError } from '../../core/errors';

export const SECRET_EVENTS_FUNCTION = 'secretEvents';
export const SECRET_EVENTS_WEBHOOK_SETTING = 'ADE_SECRET_EVENTS_WEBHOOK_URL';

export function secretEventsDestination(env: Record<string, string | undefined> = process.env): EventDestination | undefined {
  const webhook = env[SECRET_EVENTS_WEBHOOK_SETTING]?.trim();
  if (webhook) {
    let url: URL;
    try {
      url = new URL(webhook);
    } catch {
      throw new ValidationError(`${SECRET_EVENTS_WEBHOOK_SETTING} must be an absolute http(s) URL of the secretEvents Event Grid webhook`, { field: SECRET_EVENTS_WEBHOOK_SETTING });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ValidationError(`${SECRET_EVENTS_WEBHOOK_SETTING} must use http or https`, { field: SECRET_EVENTS_WEBHOOK_SETTING });
    }
    return { kind: 'webhook', endpointUrl: url.toString(), maxEventsPerBatch: 1 };
  }
  const site = env.WEBSITE_SITE_NAME?.trim();
  const resourceGroup = env.WEBSITE_RESOURCE_GROUP?.trim();
  const subscriptionId = /^([0-9a-f-]{36})\+/i.exec(env.WEBSITE_OWNER_NAME ?? '')?.[1];
  if (site && resourceGroup && subscriptionId) {
    return {
      kind: 'azure-function',
      resourceId: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${site}/functions/${SECRET_EVENTS_FUNCTION}`,
      maxEventsPerBatch: 1,
    };
  }
  return undefined;
}
