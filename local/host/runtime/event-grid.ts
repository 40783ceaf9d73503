/**
 * The Event Grid extension's webhook (`/runtime/webhooks/eventgrid?functionName=<name>`), after
 * Microsoft.Azure.WebJobs.Extensions.EventGrid HttpRequestProcessor: validation handshake, notifications
 * (single event or batch, Event Grid schema or CloudEvents, one invocation per event, in parallel),
 * unsubscribe, and the CloudEvents OPTIONS abuse-protection handshake.
 */
import type { HostHttpRequest, HostHttpResponse } from '../contract';
import type { LoadedApp } from './load-app';
import { errorMessage } from './load-app';

const text = (status: number, body = ''): HostHttpResponse => ({
  status,
  headers: body ? { 'content-type': 'text/plain; charset=utf-8' } : {},
  body,
});

function header(req: HostHttpRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Origins Event Grid sends in WebHook-Request-Origin, echoed back as allowed. */
function isEventGridOrigin(origin: string): boolean {
  return /(^|\.)eventgrid\.azure\.(net|us|cn)$/i.test(origin) || /(^|\.)eventgrid\.azure\.de$/i.test(origin);
}

export async function handleEventGridWebhook(req: HostHttpRequest, url: URL, runtime: LoadedApp): Promise<HostHttpResponse> {
  const functionName = url.searchParams.get('functionName') ?? '';
  const fn = functionName ? runtime.get(functionName) : undefined;
  if (!fn || fn.trigger.type !== 'eventGridTrigger') return text(404, `cannot find function: '${functionName}'`);

  if (req.method === 'OPTIONS') {
    const origin = header(req, 'webhook-request-origin');
    const allowed = origin && isEventGridOrigin(origin) ? origin : 'eventgrid.azure.net';
    return { status: 200, headers: { 'webhook-allowed-origin': allowed, allow: 'POST' } };
  }
  if (req.method !== 'POST') return text(405, `The Event Grid webhook accepts POST and OPTIONS, not ${req.method}`);

  const eventType = (header(req, 'aeg-event-type') ?? '').toLowerCase();
  if (eventType === 'unsubscribe') return { status: 202 };
  if (eventType !== 'subscriptionvalidation' && eventType !== 'notification') {
    return text(
      400,
      `aeg-event-type header must be SubscriptionValidation, Notification or Unsubscribe, got '${header(req, 'aeg-event-type') ?? ''}'`,
    );
  }

  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    return text(400, `Request body is not valid JSON: ${errorMessage(err)}`);
  }

  if (eventType === 'subscriptionvalidation') {
    const first = Array.isArray(body) ? body[0] : body;
    let data: unknown = first && typeof first === 'object' ? (first as { data?: unknown }).data : undefined;
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data);
      } catch {
        data = undefined;
      }
    }
    const code = data && typeof data === 'object' ? (data as { validationCode?: unknown }).validationCode : undefined;
    if (typeof code !== 'string') return text(400, 'SubscriptionValidation event has no data.validationCode');
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ validationResponse: code }),
    };
  }

  const events = Array.isArray(body) ? body : [body];
  if (events.some((e) => !e || typeof e !== 'object' || Array.isArray(e))) return text(400, 'Each Event Grid event must be a JSON object');
  const outcomes = await Promise.allSettled(
    events.map((event: Record<string, unknown>) =>
      runtime.invoke(functionName, {
        triggerData: { json: JSON.stringify(event) },
        triggerMetadata: event.data === undefined ? {} : { data: { json: JSON.stringify(event.data) } },
      }),
    ),
  );
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  // The real host answers with the exception message; Event Grid then redelivers the whole batch.
  if (failed) return text(500, `Exception while executing function: Functions.${functionName}. ${errorMessage(failed.reason)}`);
  return { status: 202 };
}
