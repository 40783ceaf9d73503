/**
 * Event Grid delivery and custom-topic publishing.
 *
 * Delivery follows https://learn.microsoft.com/azure/event-grid/delivery-and-retry: at-least-once per event
 * subscription, batches (maxEventsPerBatch, preferredBatchSizeInKilobytes), success on 200–204, no retry on
 * 400/413 (straight to dead-letter), otherwise the retry schedule 10 s, 30 s, 1 min, 5 min, 10 min, 30 min,
 * 1 h, then hourly up to maxDeliveryAttempts (default 30) / eventTimeToLiveInMinutes (1,440). The back-off
 * waits are divided by the simulator's speed-up; the time to live counts them at Azure's length.
 * Requests carry aeg-event-type, aeg-subscription-name, aeg-delivery-count, aeg-data-version,
 * aeg-metadata-version. WebHook endpoints get the SubscriptionValidationEvent handshake.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SimError, type EventBus, type GridEvent, type Service, type SimContext, type SimRequest, type SimResponse } from '../contract';
import type { EventSubscriptionRecord } from '../arm/state';
import { matches, type SubscriptionFilter } from './filters';
import { eventGridLink } from './link';
import type { OptionalBearerService } from '../front/pipeline';

/** Azure's timeout for one delivery attempt (real time). */
const DELIVERY_TIMEOUT_MS = 30_000;
const RETRY_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
const MAX_EVENT_BYTES = 1024 * 1024;
const TOPIC_HOST = /^([a-z0-9-]+)\.([a-z0-9]+)-1\.eventgrid\.azure\.net$/;

interface DeadLetter {
  eventSubscriptionId: string;
  events: GridEvent[];
  deadLetterReason: 'MaxDeliveryAttemptsExceeded' | 'TimeToLiveExceeded' | 'NonRetriableError';
  lastHttpStatus?: number;
  lastError?: string;
  deliveryAttempts: number;
  deadLetteredAt: string;
  /**
   * `<storage account id>/<container>` from the subscription's deadLetterDestination (or deadLetterWithResourceIdentity):
   * where Azure writes the blob. Absent: the subscription has no dead-letter destination and Azure drops the events.
   */
  destination?: string;
}

interface Stats {
  published: number;
  delivered: number;
  attempts: number;
  failedAttempts: number;
  inFlight: number;
}

export interface EventGrid {
  bus: EventBus;
  dataService: Service;
  /** Stops retries and new deliveries (in-flight requests finish). */
  stop(): void;
}

export function createEventGrid(ctx: SimContext): EventGrid {
  const link = eventGridLink(ctx);
  const functionApps = new Map<string, { url: string; code?: string }>();
  let deadLetters: DeadLetter[] = [];
  let stats: Stats = { published: 0, delivered: 0, attempts: 0, failedAttempts: 0, inFlight: 0 };
  let generation = 0;
  let copies = 1;

  ctx.state.register('eventgrid', {
    snapshot: () => ({ functionApps: [...functionApps], deadLetters }),
    restore: (value) => {
      const v = value as { functionApps?: [string, { url: string; code?: string }][]; deadLetters?: DeadLetter[] };
      functionApps.clear();
      for (const [k, url] of v.functionApps ?? []) functionApps.set(k, url);
      deadLetters = v.deadLetters ?? [];
      generation += 1;
    },
    reset: () => {
      functionApps.clear();
      deadLetters = [];
      stats = { published: 0, delivered: 0, attempts: 0, failedAttempts: 0, inFlight: 0 };
      generation += 1;
    },
  });

  const functionAppKey = (value: string) => {
    const match = /\/providers\/Microsoft\.Web\/sites\/([^/]+)/i.exec(value);
    return (match ? match[1]! : value).toLowerCase();
  };
  link.setFunctionApp = (idOrName, baseUrl, code) => {
    if (baseUrl === undefined) functionApps.delete(functionAppKey(idOrName));
    else functionApps.set(functionAppKey(idOrName), { url: baseUrl.replace(/\/$/, ''), code });
  };
  link.functionAppUrl = (idOrName) => functionApps.get(functionAppKey(idOrName));
  link.deliveryReport = () => ({
    mounted: true,
    ...stats,
    functionApps: [...functionApps].map(([name, v]) => ({ name, url: v.url, hasCode: v.code !== undefined })),
    deadLetters,
  });
  link.setDeliveryCopies = (n) => {
    copies = n;
  };
  link.clearDeliveryReport = () => {
    deadLetters = [];
    stats = { published: 0, delivered: 0, attempts: 0, failedAttempts: 0, inFlight: 0 };
  };

  /** Where a subscription's events go: the webhook URL, or the local function host's Event Grid webhook. */
  function endpointOf(sub: EventSubscriptionRecord): { url: string } | { error: string } {
    const destination = sub.properties.destination ?? {};
    const props = destination.properties ?? {};
    if (String(destination.endpointType).toLowerCase() === 'webhook') return { url: String(props.endpointUrl) };
    if (String(destination.endpointType).toLowerCase() === 'azurefunction') {
      const resourceId = String(props.resourceId ?? '');
      const fn = /\/functions\/([^/]+)$/i.exec(resourceId)?.[1];
      const base = link.functionAppUrl(resourceId);
      if (!base || !fn)
        return {
          error: `No function endpoint is configured for ${resourceId} (use the control API: PUT /_sim/arm/eventgrid/functionApps).`,
        };
      // Azure calls the function app's Event Grid webhook with its eventgrid_extension system key.
      const code = base.code ? `&code=${encodeURIComponent(base.code)}` : '';
      return { url: `${base.url}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(fn)}${code}` };
    }
    return { error: `Endpoint type '${String(destination.endpointType)}' is not simulated.` };
  }

  function toCloudEvent(e: GridEvent): Record<string, unknown> {
    return {
      specversion: '1.0',
      id: e.id,
      source: e.topic,
      subject: e.subject,
      type: e.eventType,
      time: e.eventTime,
      datacontenttype: 'application/json',
      data: e.data,
    };
  }

  function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        resolve({ status: 0, text: `invalid endpoint URL` });
        return;
      }
      const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        parsed,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: DELIVERY_TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (chunks.length < 64) chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 4096) }));
          res.on('error', (e) => resolve({ status: 0, text: e.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('endpoint did not answer within 30 seconds')));
      req.on('error', (e) => resolve({ status: 0, text: e.message }));
      req.end(body);
    });
  }

  async function deliver(sub: EventSubscriptionRecord, events: GridEvent[], myGeneration: number): Promise<void> {
    const retry = sub.properties.retryPolicy ?? {};
    const maxAttempts = Math.min(30, Math.max(1, Number(retry.maxDeliveryAttempts ?? 30)));
    const ttlMs = Math.max(1, Number(retry.eventTimeToLiveInMinutes ?? 1440)) * 60_000;
    const publishedAt = ctx.clock.now();
    const cloud = String(sub.properties.eventDeliverySchema ?? 'EventGridSchema').toLowerCase() === 'cloudeventschemav1_0';
    const body = JSON.stringify(cloud ? events.map(toCloudEvent) : events);
    stats.inFlight += 1;
    let attempt = 0;
    // Back-off the speed-up skipped: the time to live is judged as if each wait had taken Azure's time.
    let skippedMs = 0;
    let last: { status: number; text: string } = { status: 0, text: '' };
    try {
      for (;;) {
        if (myGeneration !== generation) return;
        const endpoint = endpointOf(sub);
        attempt += 1;
        stats.attempts += 1;
        if ('error' in endpoint) {
          last = { status: 0, text: endpoint.error };
        } else {
          last = await post(
            endpoint.url,
            {
              'content-type': cloud ? 'application/cloudevents-batch+json; charset=utf-8' : 'application/json; charset=utf-8',
              'aeg-event-type': 'Notification',
              'aeg-subscription-name': sub.name.toUpperCase(),
              'aeg-delivery-count': String(attempt - 1),
              'aeg-data-version': events[0]?.dataVersion ?? '',
              'aeg-metadata-version': '1',
            },
            body,
          );
        }
        if (last.status >= 200 && last.status <= 204) {
          stats.delivered += events.length;
          return;
        }
        stats.failedAttempts += 1;
        const nonRetriable = last.status === 400 || last.status === 413;
        const delay = RETRY_SCHEDULE_MS[Math.min(attempt - 1, RETRY_SCHEDULE_MS.length - 1)]!;
        const expired = ctx.clock.now() + skippedMs + delay - publishedAt > ttlMs;
        if (nonRetriable || attempt >= maxAttempts || expired) {
          deadLetters.push({
            eventSubscriptionId: sub.id,
            events,
            deadLetterReason: nonRetriable ? 'NonRetriableError' : expired ? 'TimeToLiveExceeded' : 'MaxDeliveryAttemptsExceeded',
            lastHttpStatus: last.status || undefined,
            lastError: last.text.slice(0, 500),
            deliveryAttempts: attempt,
            deadLetteredAt: new Date(ctx.clock.now()).toISOString(),
            ...deadLetterDestinationOf(sub.properties),
          });
          if (deadLetters.length > 10_000) deadLetters.shift();
          ctx.log('warn', 'event grid dead-lettered events', { subscription: sub.id, status: last.status, attempts: attempt });
          return;
        }
        skippedMs += delay - ctx.clock.shorten(delay);
        await ctx.clock.slowOperation(delay);
      }
    } finally {
      stats.inFlight -= 1;
    }
  }

  /** Splits matching events into batches per the destination's maxEventsPerBatch / preferredBatchSizeInKilobytes. */
  function batches(sub: EventSubscriptionRecord, events: GridEvent[]): GridEvent[][] {
    const props = sub.properties.destination?.properties ?? {};
    const maxEvents = Math.min(5000, Math.max(1, Number(props.maxEventsPerBatch ?? 1)));
    const maxBytes = Math.min(1024, Math.max(1, Number(props.preferredBatchSizeInKilobytes ?? 64))) * 1024;
    const out: GridEvent[][] = [];
    let current: GridEvent[] = [];
    let bytes = 0;
    for (const e of events) {
      const size = Buffer.byteLength(JSON.stringify(e));
      if (current.length > 0 && (current.length >= maxEvents || bytes + size > maxBytes)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(e);
      bytes += size;
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  const bus: EventBus = {
    publish(source, events) {
      stats.published += events.length;
      const myGeneration = generation;
      for (const sub of link.subscriptionsFor(source)) {
        const filter = sub.properties.filter as SubscriptionFilter | undefined;
        const selected = events.filter((e) => link.accepts(sub, e) && matches(filter, e));
        for (const batch of batches(sub, selected)) {
          for (let copy = 0; copy < copies; copy++)
            deliver(sub, batch, myGeneration).catch((error: unknown) =>
              ctx.log('error', 'event delivery crashed', { error: String(error) }),
            );
        }
      }
    },
  };

  link.validateEndpoint = async (sub) => {
    const endpoint = endpointOf(sub);
    if ('error' in endpoint) return endpoint.error;
    if (String(sub.properties.destination?.endpointType).toLowerCase() !== 'webhook') return undefined;
    const code = randomUUID();
    const event = {
      id: randomUUID(),
      topic: sub.source,
      subject: '',
      data: {
        validationCode: code,
        validationUrl: `https://rp-${'westus'}.eventgrid.azure.net:553/eventsubscriptions/${sub.name}/validate?id=${code}`,
      },
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date(ctx.clock.now()).toISOString(),
      metadataVersion: '1',
      dataVersion: '2',
    };
    const result = await post(
      endpoint.url,
      {
        'content-type': 'application/json; charset=utf-8',
        'aeg-event-type': 'SubscriptionValidation',
        'aeg-subscription-name': sub.name.toUpperCase(),
        'aeg-delivery-count': '0',
        'aeg-data-version': '2',
        'aeg-metadata-version': '1',
      },
      JSON.stringify([event]),
    );
    let response: unknown;
    try {
      response = JSON.parse(result.text);
    } catch {
      response = undefined;
    }
    const echoed = (response as { validationResponse?: string } | undefined)?.validationResponse;
    if (result.status === 200 && echoed === code) return undefined;
    const hostPart = (() => {
      try {
        return new URL(endpoint.url).origin;
      } catch {
        return 'the endpoint';
      }
    })();
    return (
      `Webhook validation handshake failed for ${hostPart}. Http POST request retuned 2XX response with ` +
      `response body . When a validation request is accepted without validation code in the response body, ` +
      `Http GET is expected on the validation url included in the validation event(within 10 minutes). ` +
      `(status ${result.status})`
    );
  };

  // Keys and SAS tokens are checked here; an Entra bearer token (audience https://eventgrid.azure.net)
  // is validated by the front end's pipeline, which sets req.principal, and its principal must hold the
  // data action Microsoft.EventGrid/events/send/action (EventGrid Data Sender) on the topic or above
  // (https://learn.microsoft.com/azure/event-grid/authenticate-with-microsoft-entra-id).
  const dataService: OptionalBearerService = {
    name: 'eventgrid',
    requiresAuth: false,
    optionalBearerAuth: true,
    matches: (host) => TOPIC_HOST.test(host),
    operationOf: (req) =>
      req.path.toLowerCase() === '/api/events' ? 'Microsoft.EventGrid/topics/events/publish' : 'Microsoft.EventGrid/unknown',
    async handle(req: SimRequest): Promise<SimResponse> {
      if (req.path.toLowerCase() !== '/api/events')
        throw new SimError(404, 'NotFound', `The requested resource '${req.path.slice(0, 100)}' was not found.`);
      if (req.method !== 'POST')
        throw new SimError(405, 'MethodNotAllowed', `The requested resource does not support http method '${req.method.slice(0, 10)}'.`);
      const topic = link.topicByHost(req.host);
      if (!topic) throw new SimError(404, 'NotFound', `The topic endpoint '${req.host}' does not exist.`);
      authorizePublish(req, topic.key1, topic.key2, topic.endpoint, topic.disableLocalAuth);
      if (req.principal && !hasKeyOrSas(req) && !ctx.authorization?.allows(req.principal.objectId, SEND_EVENTS, topic.id, 'dataAction'))
        throw new SimError(
          401,
          'Unauthorized',
          `The principal associated with the bearer token (object id '${req.principal.objectId}') does not ` +
            `have the required permission '${SEND_EVENTS}' on the topic '${topic.id}'. Assign it the EventGrid ` +
            `Data Sender role on the topic (or above).`,
        );
      if (req.body.length > MAX_EVENT_BYTES)
        throw new SimError(413, 'RequestEntityTooLarge', `The maximum size (${MAX_EVENT_BYTES}) has been exceeded.`);
      let parsed: unknown = req.json;
      if (parsed === undefined) {
        try {
          parsed = JSON.parse(req.body.toString('utf8'));
        } catch {
          throw new SimError(400, 'BadRequest', 'The request body is not valid JSON.');
        }
      }
      const items = Array.isArray(parsed) ? parsed : [parsed];
      const cloud = topic.inputSchema.toLowerCase() === 'cloudeventschemav1_0';
      const events: GridEvent[] = items.map((item, index) =>
        cloud ? fromCloudEvent(item, index, topic.id) : fromGridEvent(item, index, topic.id),
      );
      bus.publish(topic.id, events);
      return { status: 200 };
    },
  };

  let stopped = false;
  const publish = bus.publish.bind(bus);
  bus.publish = (source, events) => {
    if (!stopped) publish(source, events);
  };
  return {
    bus,
    dataService,
    stop: () => {
      stopped = true;
      generation += 1;
    },
  };
}

const SEND_EVENTS = 'Microsoft.EventGrid/events/send/action';

function hasKeyOrSas(req: SimRequest): boolean {
  return req.headers['aeg-sas-key'] !== undefined || req.headers['aeg-sas-token'] !== undefined;
}

function authorizePublish(req: SimRequest, key1: string, key2: string, endpoint: string, disableLocalAuth: boolean): void {
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const key = header('aeg-sas-key');
  const sas = header('aeg-sas-token');
  if ((key || sas) && disableLocalAuth)
    throw new SimError(
      401,
      'Unauthorized',
      'Local authentication (keys and SAS tokens) is disabled for this topic; use Microsoft Entra ID.',
    );
  if (key) {
    if (safeEqual(key, key1) || safeEqual(key, key2)) return;
    throw new SimError(401, 'Unauthorized', 'The request authorization key is not authorized for this topic.');
  }
  if (sas) {
    const params = new URLSearchParams(sas);
    const r = params.get('r');
    const e = params.get('e');
    const s = params.get('s');
    if (!r || !e || !s) throw new SimError(401, 'Unauthorized', 'The SAS token is malformed: expected r, e and s.');
    if (!r.toLowerCase().startsWith(endpoint.toLowerCase()))
      throw new SimError(401, 'Unauthorized', 'The SAS token was issued for a different resource.');
    if (Number.isNaN(Date.parse(e)) || Date.parse(e) < Date.now()) throw new SimError(401, 'Unauthorized', 'The SAS token has expired.');
    const unsigned = `r=${encodeURIComponent(r)}&e=${encodeURIComponent(e)}`;
    const valid = [key1, key2].some(
      (k) =>
        safeEqual(createHmac('sha256', Buffer.from(k, 'base64')).update(unsigned).digest('base64'), s) ||
        safeEqual(createHmac('sha256', k).update(unsigned).digest('base64'), s),
    );
    if (valid) return;
    throw new SimError(401, 'Unauthorized', 'The SAS token signature is invalid.');
  }
  if (req.principal) return;
  throw new SimError(
    401,
    'Unauthorized',
    'The request authorization key is missing: send aeg-sas-key, aeg-sas-token or a Microsoft Entra bearer token.',
  );
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function fromGridEvent(item: unknown, index: number, topicId: string): GridEvent {
  const e = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  for (const field of ['id', 'subject', 'eventType', 'dataVersion'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '') {
      throw new SimError(400, 'BadRequest', `The event at index ${index} is missing the required property '${field}'.`);
    }
  }
  if (typeof e.eventTime !== 'string' || Number.isNaN(Date.parse(e.eventTime))) {
    throw new SimError(400, 'BadRequest', `The event at index ${index} has an invalid or missing 'eventTime'.`);
  }
  return {
    id: String(e.id),
    topic: topicId,
    subject: String(e.subject),
    eventType: String(e.eventType),
    eventTime: String(e.eventTime),
    data: e.data,
    dataVersion: String(e.dataVersion),
    metadataVersion: '1',
  };
}

function fromCloudEvent(item: unknown, index: number, topicId: string): GridEvent {
  const e = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  for (const field of ['id', 'source', 'type', 'specversion'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '')
      throw new SimError(400, 'BadRequest', `The CloudEvent at index ${index} is missing the required attribute '${field}'.`);
  }
  return {
    id: String(e.id),
    topic: topicId,
    subject: typeof e.subject === 'string' ? e.subject : '',
    eventType: String(e.type),
    eventTime: typeof e.time === 'string' ? e.time : new Date().toISOString(),
    data: e.data ?? e.data_base64,
    dataVersion: '',
    metadataVersion: '1',
  };
}

function deadLetterDestinationOf(properties: Record<string, any>): { destination?: string } {
  const d = properties.deadLetterDestination ?? properties.deadLetterWithResourceIdentity?.deadLetterDestination;
  const p = d?.properties;
  return typeof p?.resourceId === 'string' && typeof p?.blobContainerName === 'string'
    ? { destination: `${p.resourceId}/${p.blobContainerName}` }
    : {};
}
