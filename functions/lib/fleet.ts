/**
 * The fleet status API (function key), over the orchestrations' own records (core/fleet-status.ts):
 *
 * - `GET /api/vms?state=&kind=&subscription=&resourceGroup=&os=&mode=&top=&continuationToken=`: the fleet (VMs and
 *   Uniform scale sets, `kind`), paged, with counts per state;
 * - `GET /api/vms/{subscription}/{resourceGroup}/{name}`: one VM, its runs, disks, vault and last error;
 * - `GET /api/summary`: counts, failures in the last 24 h, the oldest run in flight, running sweeps.
 *
 * Runs are found by instance-id prefix (`encrypt-` (encryptVm, encryptAtHost and encryptVmss), `remediate-`, `restore-`,
 * `sweep-`) through the Durable
 * extension's instance query (`GET instances?instanceIdPrefix=…&showInput=false`, the HTTP API the JS client itself
 * calls: https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api#get-all-instances-status).
 * durable-functions 3 does not pass a prefix or `showInput=false` through `getStatusBy`, so the query goes to the
 * client binding's own endpoint (its loopback `rpcBaseUrl`), never through a key the caller holds.
 */
import type { DurableClient } from 'durable-functions';
import { toErrorInfo, ValidationError } from '../../core/errors';
import {
  fleetPage,
  fleetSummary,
  parseFleetQuery,
  vmIdFromSegments,
  vmView,
  vmViews,
  type RunRecord,
  type VmView,
} from '../../core/fleet-status';
import { orchestrationInstanceId } from '../../core/names';
import { isInstanceNotFound } from './start';

export const VMS_ROUTE = 'vms';
export const VM_ROUTE = 'vms/{subscription}/{resourceGroup}/{name}';
export const SUMMARY_ROUTE = 'summary';

/** Reads the Durable store: every instance whose id starts with a prefix, and one instance by id. */
export interface RunStore {
  listByPrefix(prefix: string): Promise<RunRecord[]>;
  get(instanceId: string): Promise<RunRecord | undefined>;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const VM_PREFIXES = ['encrypt-', 'remediate-', 'restore-'] as const;
const PAGE = 1000;

/** Every run that acts on a VM (vault remediations have no VM and are left out by the fleet view). */
async function allVmRuns(store: RunStore): Promise<RunRecord[]> {
  const lists = await Promise.all(VM_PREFIXES.map((prefix) => store.listByPrefix(prefix)));
  return lists.flat();
}

function badRequest(error: unknown): Answer {
  const field = error instanceof ValidationError ? error.field : undefined;
  return { status: 400, body: { error: toErrorInfo(error).message, ...(field ? { field } : {}) } };
}

/** `GET /api/vms`. */
export async function handleListVms(query: { get(name: string): string | null }, store: RunStore): Promise<Answer> {
  let parsed;
  try {
    parsed = parseFleetQuery(query);
  } catch (error) {
    return badRequest(error);
  }
  const page = fleetPage(vmViews(await allVmRuns(store)), parsed);
  return { status: 200, body: { ...page } };
}

/** `GET /api/vms/{subscription}/{resourceGroup}/{name}`: 400 for a bad segment, 404 for a VM the app has no run for. */
export async function handleVmDetail(params: Record<string, string | undefined>, store: RunStore): Promise<Answer> {
  let vmId: string;
  try {
    vmId = vmIdFromSegments(params.subscription, params.resourceGroup, params.name);
  } catch (error) {
    return badRequest(error);
  }
  const ids = ['encrypt', 'remediate', 'restore'].map((purpose) => orchestrationInstanceId(vmId, purpose));
  const records = (await Promise.all(ids.map((id) => store.get(id)))).filter((r): r is RunRecord => r !== undefined);
  if (records.length === 0) return { status: 404, body: { error: `no run of this app for ${vmId}` } };
  const view: VmView = vmView(vmId, records);
  return { status: 200, body: { ...view } };
}

/** `GET /api/summary`. */
export async function handleSummary(store: RunStore, now: number): Promise<Answer> {
  const [runs, sweeps] = await Promise.all([allVmRuns(store), store.listByPrefix('sweep-')]);
  const active = sweeps.filter((s) => ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'].includes(s.runtimeStatus));
  return { status: 200, body: { ...fleetSummary(vmViews(runs), active, now) } };
}

// --- the store over the Durable client ------------------------------------------------------------

interface ClientBinding {
  rpcBaseUrl?: string;
  baseUrl?: string;
  requiredQueryStringParameters?: string;
}

function asRecord(row: Record<string, unknown>): RunRecord | undefined {
  if (typeof row.instanceId !== 'string' || typeof row.name !== 'string' || typeof row.runtimeStatus !== 'string') return undefined;
  return {
    instanceId: row.instanceId,
    name: row.name,
    runtimeStatus: row.runtimeStatus,
    customStatus: row.customStatus ?? null,
    output: row.output ?? null,
    createdTime: String(row.createdTime ?? ''),
    lastUpdatedTime: String(row.lastUpdatedTime ?? ''),
  };
}

/** The instance-list URL of the client binding (its rpc endpoint, else the webhook with the binding's own query). */
export function instancesUrl(binding: ClientBinding, prefix: string): string {
  const query = `instanceIdPrefix=${encodeURIComponent(prefix)}&showInput=false&top=${PAGE}`;
  if (binding.rpcBaseUrl) return new URL(`instances/?${query}`, binding.rpcBaseUrl).toString();
  if (binding.baseUrl) {
    const required = binding.requiredQueryStringParameters ? `${binding.requiredQueryStringParameters}&` : '';
    return `${binding.baseUrl.replace(/\/$/, '')}/instances/?${required}${query}`;
  }
  throw new Error('the durable client binding names neither rpcBaseUrl nor baseUrl');
}

/** A RunStore over the function's durable client: prefix queries over HTTP, single reads through getStatus. */
export function durableRunStore(client: DurableClient, fetchImpl: typeof fetch = fetch): RunStore {
  const binding = (client as unknown as { clientData?: ClientBinding }).clientData ?? {};
  return {
    async listByPrefix(prefix) {
      const url = instancesUrl(binding, prefix);
      const out: RunRecord[] = [];
      let token: string | undefined;
      do {
        const response = await fetchImpl(url, { headers: token ? { 'x-ms-continuation-token': token } : {} });
        if (response.status !== 200) throw new Error(`the Durable instance query answered ${response.status}`);
        const rows = (await response.json()) as unknown;
        if (!Array.isArray(rows)) throw new Error('the Durable instance query returned no list');
        for (const row of rows) {
          const record = row && typeof row === 'object' ? asRecord(row as Record<string, unknown>) : undefined;
          if (record) out.push(record);
        }
        token = response.headers.get('x-ms-continuation-token') ?? undefined;
      } while (token);
      return out;
    },
    async get(instanceId) {
      try {
        const status = await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput: false });
        if (!status || typeof status.name !== 'string') return undefined;
        return asRecord({ ...status, createdTime: toIso(status.createdTime), lastUpdatedTime: toIso(status.lastUpdatedTime) });
      } catch (error) {
        if (isInstanceNotFound(error)) return undefined;
        throw error;
      }
    },
  };
}

function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return String(value ?? '');
}
