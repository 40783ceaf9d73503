/**
 * ResourceGraphPort over @azure/arm-resourcegraph: the fleet's VMs (model, power state, ADE extension) across many
 * subscriptions in pages of up to 1,000, from Azure Resource Graph, which has its own per-user quota and spends none of
 * Resource Manager's read tokens (https://learn.microsoft.com/azure/governance/resource-graph/overview).
 *
 * One query returns each VM followed by its ADE extensions (`order by id asc` puts `…/virtualMachines/vm1/extensions/x`
 * right after `…/virtualMachines/vm1`); a page that ends inside a VM's rows hands that VM to the next page (`$skip`
 * overrides the `$skipToken`'s offset, https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data).
 *
 * Throttling (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests): the
 * adapter reads `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` and waits for the reset before the next
 * query when the quota is spent, and after a 429 before trying again (a few times).
 */
import { ResourceGraphClient, type ResourceGraphClientOptionalParams } from '@azure/arm-resourcegraph';
import type { VirtualMachine, VirtualMachineExtension, VirtualMachineScaleSet } from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import { ValidationError } from '../core/errors';
import { parseResourceId } from '../core/resource-ids';
import type { ScaleSetSnapshot, VmSnapshot } from '../core/vm';
import { toVmSnapshot } from './compute-mapping';
import { callAzure, SDK_RETRY_OPTIONS } from './errors';
import type { GraphCursor, GraphVmPage, ResourceGraphPort } from './ports';
import { toScaleSetSnapshot } from './scale-sets';

/** The one query the sweep runs: VMs and the ADE extensions on them (publisher Microsoft.Azure.Security). */
export const FLEET_QUERY =
  'Resources ' +
  "| where type =~ 'microsoft.compute/virtualmachines' or (type =~ 'microsoft.compute/virtualmachines/extensions' and " +
  "properties.publisher =~ 'Microsoft.Azure.Security') " +
  '| project id, name, type, location, resourceGroup, subscriptionId, tags, properties, identity, zones ' +
  '| order by id asc';

/** The subscriptions under management groups (Resource Graph's `ResourceContainers`; the groups go in the request's scope). */
export const SUBSCRIPTIONS_QUERY =
  "ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId | order by subscriptionId asc";

/** Scale sets with their model (ADE on a Uniform set is an extension of the model, so no extension rows are needed). */
export const SCALE_SETS_QUERY =
  "Resources | where type =~ 'microsoft.compute/virtualmachinescalesets' " +
  '| project id, name, type, location, resourceGroup, subscriptionId, tags, sku, properties | order by id asc';

const PAGE_SIZE = 1000;
const THROTTLED_ATTEMPTS = 5;

export interface ResourceGraphAdapterOptions {
  clientOptions?: ResourceGraphClientOptionalParams;
  /** Waits (tests may shorten); default real timers. */
  sleep?: (ms: number) => Promise<void>;
}

type Row = Record<string, unknown> & { id?: string; type?: string; properties?: Record<string, unknown> };

/** hh:mm:ss (or d.hh:mm:ss) → milliseconds; undefined when unreadable. */
export function quotaResetsAfterMs(value: string | null | undefined): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2])) * 3600 + Number(m[3]) * 60 + Number(m[4])) * 1000;
}

export class ResourceGraphAdapter implements ResourceGraphPort {
  private client: ResourceGraphClient | undefined;
  /** No query before this time (the quota was spent). */
  private notBefore = 0;

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: ResourceGraphAdapterOptions = {},
  ) {}

  private sleep(ms: number): Promise<void> {
    return this.options.sleep ? this.options.sleep(ms) : new Promise((r) => setTimeout(r, ms));
  }

  private graph(): ResourceGraphClient {
    return (this.client ??= new ResourceGraphClient(this.credential, {
      retryOptions: { ...SDK_RETRY_OPTIONS },
      ...this.options.clientOptions,
    }));
  }

  async vmPage(subscriptionIds: readonly string[], cursor?: GraphCursor): Promise<GraphVmPage> {
    if (subscriptionIds.length === 0) throw new ValidationError('No subscriptions to query', { field: 'subscriptionIds' });
    const response = await callAzure(`Query Resource Graph for the VMs of ${subscriptionIds.length} subscription(s)`, () =>
      this.query({
        subscriptions: [...subscriptionIds],
        query: FLEET_QUERY,
        options: {
          top: PAGE_SIZE,
          resultFormat: 'objectArray',
          ...(cursor ? { skipToken: cursor.skipToken, skip: cursor.skip } : {}),
        },
      }),
    );
    const rows = (Array.isArray(response.data) ? response.data : []) as Row[];
    const more = typeof response.skipToken === 'string' && response.skipToken !== '';
    // A page that may end inside the last VM's rows leaves that VM to the next page.
    let consumed = rows.length;
    if (more) {
      let lastVm = rows.length - 1;
      while (lastVm >= 0 && !isVmRow(rows[lastVm]!)) lastVm -= 1;
      if (lastVm > 0) consumed = lastVm;
    }
    const vms = groupVms(rows.slice(0, consumed));
    const page: GraphVmPage = { vms };
    if (more) page.cursor = { skipToken: response.skipToken!, skip: (cursor?.skip ?? 0) + consumed };
    return page;
  }

  /** Every scale set of the subscriptions, as its model (one query per 1,000 sets; no ARM reads). */
  async scaleSets(subscriptionIds: readonly string[]): Promise<ScaleSetSnapshot[]> {
    if (subscriptionIds.length === 0) throw new ValidationError('No subscriptions to query', { field: 'subscriptionIds' });
    const out: ScaleSetSnapshot[] = [];
    let skipToken: string | undefined;
    do {
      const response = await callAzure(`Query Resource Graph for the scale sets of ${subscriptionIds.length} subscription(s)`, () =>
        this.query({
          subscriptions: [...subscriptionIds],
          query: SCALE_SETS_QUERY,
          options: { top: PAGE_SIZE, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
        }),
      );
      for (const row of (Array.isArray(response.data) ? response.data : []) as Row[]) out.push(toScaleSetRow(row));
      skipToken = response.skipToken || undefined;
    } while (skipToken);
    return out;
  }

  async subscriptionsInManagementGroups(managementGroupIds: readonly string[]): Promise<string[]> {
    if (managementGroupIds.length === 0) return [];
    const out: string[] = [];
    let skipToken: string | undefined;
    do {
      const response = await callAzure(`List the subscriptions of management group(s) ${managementGroupIds.join(', ')}`, () =>
        this.query({
          managementGroups: [...managementGroupIds],
          query: SUBSCRIPTIONS_QUERY,
          options: { top: PAGE_SIZE, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
        }),
      );
      for (const row of (Array.isArray(response.data) ? response.data : []) as Row[]) {
        if (typeof row.subscriptionId === 'string') out.push(row.subscriptionId.toLowerCase());
      }
      skipToken = response.skipToken || undefined;
    } while (skipToken);
    return [...new Set(out)];
  }

  private async query(request: Parameters<ResourceGraphClient['resources']>[0]) {
    for (let attempt = 1; ; attempt++) {
      const wait = this.notBefore - Date.now();
      if (wait > 0) await this.sleep(wait);
      let remaining: string | undefined;
      let resetsAfter: string | undefined;
      try {
        const response = await this.graph().resources(request, {
          onResponse: (raw) => {
            remaining = raw.headers.get('x-ms-user-quota-remaining');
            resetsAfter = raw.headers.get('x-ms-user-quota-resets-after');
          },
        });
        if (remaining === '0' && resetsAfter !== undefined) this.notBefore = Date.now() + (quotaResetsAfterMs(resetsAfter) ?? 5_000);
        return response;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== 429 || attempt >= THROTTLED_ATTEMPTS) throw error;
        const headers = (error as { response?: { headers?: { get(name: string): string | undefined | null } } }).response?.headers;
        this.notBefore = Date.now() + (quotaResetsAfterMs(headers?.get('x-ms-user-quota-resets-after') ?? resetsAfter) ?? 5_000);
      }
    }
  }
}

function isVmRow(row: Row): boolean {
  return String(row.type ?? '').toLowerCase() === 'microsoft.compute/virtualmachines';
}

/** VM rows with the extension rows that follow them, as the VmSnapshot a VM GET would give (model, power state, extensions). */
function groupVms(rows: readonly Row[]): VmSnapshot[] {
  const out: VmSnapshot[] = [];
  let current: { vm: Row; extensions: Row[] } | undefined;
  const flush = () => {
    if (current) out.push(toSnapshot(current.vm, current.extensions));
    current = undefined;
  };
  for (const row of rows) {
    if (isVmRow(row)) {
      flush();
      current = { vm: row, extensions: [] };
    } else if (
      current &&
      String(row.id ?? '')
        .toLowerCase()
        .startsWith(`${String(current.vm.id ?? '').toLowerCase()}/extensions/`)
    ) {
      current.extensions.push(row);
    }
  }
  flush();
  return out;
}

function toSnapshot(row: Row, extensions: readonly Row[]): VmSnapshot {
  const props = (row.properties ?? {}) as Record<string, unknown> & { extended?: { instanceView?: { powerState?: { code?: string } } } };
  const { extended, ...model } = props;
  const powerCode = extended?.instanceView?.powerState?.code;
  const vm = {
    ...model,
    id: row.id,
    name: row.name,
    location: row.location,
    tags: row.tags ?? undefined,
    ...(row.zones ? { zones: row.zones } : {}),
    ...(powerCode ? { instanceView: { statuses: [{ code: powerCode }] } } : {}),
    resources: extensions.map((e): VirtualMachineExtension => ({
      name: String(e.name ?? ''),
      location: String(e.location ?? ''),
      publisher: e.properties?.publisher as string | undefined,
      typePropertiesType: e.properties?.type as string | undefined,
      typeHandlerVersion: e.properties?.typeHandlerVersion as string | undefined,
      provisioningState: e.properties?.provisioningState as string | undefined,
      settings: e.properties?.settings,
    })),
  } as unknown as VirtualMachine;
  return toVmSnapshot(vm);
}

/** A scale set row (ARM JSON: properties nested, extensions not flattened) as the SDK model toScaleSetSnapshot reads. */
function toScaleSetRow(row: Row): ScaleSetSnapshot {
  const props = (row.properties ?? {}) as Record<string, unknown> & {
    virtualMachineProfile?: { extensionProfile?: { extensions?: Array<{ name?: string; properties?: Record<string, unknown> }> } };
  };
  const profile = props.virtualMachineProfile;
  const extensions = (profile?.extensionProfile?.extensions ?? []).map((e) => ({
    name: e.name,
    publisher: e.properties?.publisher,
    typePropertiesType: e.properties?.type,
    typeHandlerVersion: e.properties?.typeHandlerVersion,
    provisioningState: e.properties?.provisioningState,
    settings: e.properties?.settings,
  }));
  const set = {
    ...props,
    ...(profile ? { virtualMachineProfile: { ...profile, extensionProfile: { extensions } } } : {}),
    id: row.id,
    name: row.name,
    location: row.location,
    tags: row.tags ?? undefined,
    sku: row.sku,
  } as unknown as VirtualMachineScaleSet;
  const id = parseResourceId(String(row.id ?? ''), 'id');
  return toScaleSetSnapshot(set, { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup ?? '', name: id.names[0] ?? '' });
}
