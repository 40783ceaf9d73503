/**
 * The Durable backend an app's host.json names, as the local host honours it. Whatever the provider, the local host
 * keeps orchestration state in its own SQLite store (`durable/store.ts`): it never calls Azure Storage or a Durable
 * Task Scheduler. It accepts the two providers this app deploys with, the default Azure Storage one and the Durable
 * Task Scheduler's `azureManaged`
 * (https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler), and refuses, as the
 * Functions host would fail to start, an `azureManaged` provider whose connection setting is missing or malformed and
 * a `%SETTING%` hub name whose setting is unset. Other providers (Netherite, MSSQL) are refused: the local host runs
 * none of their settings.
 */

export type DurableProvider = 'AzureStorage' | 'azureManaged';

export interface DurableBackend {
  provider: DurableProvider;
  /** The task hub name, `%SETTING%` resolved. */
  hubName: string;
  /** azureManaged only: the scheduler endpoint its connection setting names. */
  endpoint?: string;
}

export class DurableBackendError extends Error {}

/** The Durable extension's hub name when host.json sets none. */
const DEFAULT_HUB_NAME = 'TestHubName';

export function durableBackendOf(
  durableTask: Record<string, unknown> | undefined,
  env: Readonly<Record<string, string | undefined>>,
): DurableBackend {
  const hubName = resolveHubName(durableTask?.hubName, env);
  const storageProvider = (durableTask?.storageProvider ?? {}) as Record<string, unknown>;
  const type = storageProvider.type;
  if (type === undefined || (typeof type === 'string' && /^azurestorage$/i.test(type))) return { provider: 'AzureStorage', hubName };
  if (typeof type === 'string' && /^azuremanaged$/i.test(type)) {
    const name = storageProvider.connectionStringName;
    if (typeof name !== 'string' || name.trim() === '')
      throw new DurableBackendError(
        'host.json extensions.durableTask.storageProvider (azureManaged) needs connectionStringName: the app setting holding ' +
          'the Durable Task Scheduler connection string (Endpoint=…;Authentication=…)',
      );
    return { provider: 'azureManaged', hubName, endpoint: schedulerEndpoint(name, env[name]) };
  }
  throw new DurableBackendError(
    `host.json extensions.durableTask.storageProvider.type ${JSON.stringify(type)} is not one the local host runs: ` +
      'AzureStorage (the default) or azureManaged (the Durable Task Scheduler), both on its own SQLite store',
  );
}

function resolveHubName(value: unknown, env: Readonly<Record<string, string | undefined>>): string {
  if (value === undefined || value === null) return DEFAULT_HUB_NAME;
  if (typeof value !== 'string' || value.trim() === '')
    throw new DurableBackendError(`host.json extensions.durableTask.hubName must be a non-empty string: got ${JSON.stringify(value)}`);
  const setting = /^%([^%]+)%$/.exec(value)?.[1];
  if (setting === undefined) return value;
  const resolved = env[setting];
  if (resolved === undefined || resolved.trim() === '')
    throw new DurableBackendError(`host.json extensions.durableTask.hubName is %${setting}%, but the app setting ${setting} is not set`);
  return resolved;
}

/** The Endpoint of a Durable Task Scheduler connection string; throws naming the setting when it is unusable. */
function schedulerEndpoint(setting: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '')
    throw new DurableBackendError(
      `host.json names the azureManaged provider with connectionStringName ${setting}, but the app setting ${setting} is not set`,
    );
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const endpoint = fields.get('endpoint');
  let url: URL | undefined;
  try {
    url = endpoint ? new URL(endpoint) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || !fields.get('authentication'))
    throw new DurableBackendError(
      `app setting ${setting} must be a Durable Task Scheduler connection string ` +
        '(Endpoint=<http(s) URL>;Authentication=<ManagedIdentity|None|…>[;ClientID=…]); it has ' +
        `${[...fields.keys()].join(', ') || 'no key=value fields'}`,
    );
  return url.origin;
}
