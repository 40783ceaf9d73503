/**
 * The meeting point of the Resource Manager part (which owns event subscriptions and custom topics as ARM
 * resources) and Event Grid delivery. Both are created from the same SimContext, in either order.
 */
import type { GridEvent, SimContext } from '../contract';
import type { CustomTopicRecord, EventSubscriptionRecord } from '../arm/state';

export interface EventGridLink {
  /** Set by arm/: event subscriptions (provisioned) receiving events from a source. */
  subscriptionsFor(source: string): EventSubscriptionRecord[];
  /** Set by arm/: whether a subscription's topic carries this event (a system topic only its own topic type's events). */
  accepts(subscription: EventSubscriptionRecord, event: GridEvent): boolean;
  /** Set by arm/: custom topic answering for a host name. */
  topicByHost(host: string): CustomTopicRecord | undefined;
  /** Set by eventgrid/: runs the webhook validation handshake; resolves to an error message or undefined. */
  validateEndpoint(subscription: EventSubscriptionRecord): Promise<string | undefined>;
  /** Set by eventgrid/: base URL (and Event Grid system key) of a function app by ARM id or site name. */
  functionAppUrl(resourceIdOrName: string): { url: string; code?: string } | undefined;
  /** Set by eventgrid/: maps a function app (ARM id or site name) to the local host's base URL and system key. */
  setFunctionApp(resourceIdOrName: string, baseUrl: string | undefined, code?: string): void;
  /** Set by eventgrid/: delivery counters, in-flight count and the dead-letter list, for the control API. */
  deliveryReport(): unknown;
  /** Set by eventgrid/: empties the dead-letter list and counters. */
  clearDeliveryReport(): void;
  /**
   * Event Grid delivers at least once: every event goes to each subscription `copies` times (1 = no duplicates), for
   * tests of idempotence (https://learn.microsoft.com/azure/event-grid/delivery-and-retry).
   */
  setDeliveryCopies(copies: number): void;
}

const links = new WeakMap<SimContext, EventGridLink>();

export function eventGridLink(ctx: SimContext): EventGridLink {
  let link = links.get(ctx);
  if (!link) {
    link = {
      subscriptionsFor: () => [],
      accepts: () => true,
      topicByHost: () => undefined,
      validateEndpoint: async () => 'Event Grid delivery is not mounted in this simulator instance.',
      functionAppUrl: () => undefined,
      setFunctionApp: () => undefined,
      deliveryReport: () => ({ mounted: false }),
      clearDeliveryReport: () => undefined,
      setDeliveryCopies: () => undefined,
    };
    links.set(ctx, link);
  }
  return link;
}
