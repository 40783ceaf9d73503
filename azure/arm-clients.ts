/**
 * What every Resource Manager adapter does the same way: one SDK client per subscription (clients
 * pool connections and cache tokens), built with the app's retry options, and the poll interval
 * for the short long-running operations an adapter waits on.
 */
import { SDK_RETRY_OPTIONS } from './errors';

export class ClientsBySubscription<C> {
  private readonly clients = new Map<string, C>();

  /** `create` receives the SDK client options: the app's retries, then the adapter's own options. */
  constructor(private readonly create: (subscriptionId: string, options: { retryOptions: typeof SDK_RETRY_OPTIONS }) => C) {}

  get(subscriptionId: string): C {
    const key = subscriptionId.toLowerCase();
    let client = this.clients.get(key);
    if (!client) {
      client = this.create(subscriptionId, { retryOptions: { ...SDK_RETRY_OPTIONS } });
      this.clients.set(key, client);
    }
    return client;
  }
}

/** LRO poller options: ARM's suggested interval unless the adapter was given one (tests, the simulator). */
export function pollOptionsOf(pollIntervalMs: number | undefined): { updateIntervalInMs?: number } {
  return pollIntervalMs === undefined ? {} : { updateIntervalInMs: pollIntervalMs };
}

/** Where an ARM resource lives, from its parsed id and what ARM returned (the name ARM spells, else the id's). */
export function resourcePlacement(
  id: { subscriptionId: string; resourceGroup: string; name: string },
  resource: { name?: string; location?: string },
): { name: string; subscriptionId: string; resourceGroup: string; location: string } {
  return {
    name: resource.name ?? id.name,
    subscriptionId: id.subscriptionId,
    resourceGroup: id.resourceGroup,
    location: resource.location ?? '',
  };
}
