/**
 * The fleet view of the status API (`GET /api/vms`, `/api/vms/{subscription}/{resourceGroup}/{name}`,
 * `/api/summary`), derived from the orchestrations' own records: each VM's runs (encryptVm, remediateVm,
 * restoreBek under their deterministic instance ids), their typed custom status and their output. No second
 * store: Durable keeps the latest run per instance id, so a VM has at most one run of each kind. Uniform scale sets
 * are rows too (`kind: 'scaleSet'`), from their encryptVmss run (`encrypt-vmss-…` ids, the same `encrypt-` prefix).
 *
 * Pure: runs come in as plain JSON rows (what the Durable status API returns), times are passed in.
 */
import { ValidationError } from './errors';
import {
  formatVmId,
  isGuid,
  isResourceGroupName,
  isResourceType,
  isVmName,
  normaliseResourceId,
  parseResourceId,
  parseVmId,
} from './resource-ids';

/** The orchestrations that act on one VM, by the prefix of their instance ids (core/names.ts). */
export const VM_RUN_PREFIXES = { encrypt: 'encryptVm', remediate: 'remediateVm', restore: 'restoreBek' } as const;
/** ADE_ENCRYPTION_MODE=encryption-at-host runs under the same `encrypt-` instance ids as encryptVm. */
export const ENCRYPT_AT_HOST_RUN = 'encryptAtHost';
/** ADE on a Uniform scale set's model (orchestrations/encrypt-vmss.ts), under `encrypt-vmss-` instance ids. */
export const ENCRYPT_VMSS_RUN = 'encryptVmss';
export type VmOrchestration = (typeof VM_RUN_PREFIXES)[keyof typeof VM_RUN_PREFIXES] | typeof ENCRYPT_AT_HOST_RUN | typeof ENCRYPT_VMSS_RUN;
const ORCHESTRATIONS: readonly string[] = [...Object.values(VM_RUN_PREFIXES), ENCRYPT_AT_HOST_RUN, ENCRYPT_VMSS_RUN];

/** What a fleet row is: a VM (standard, including a Flexible scale set's member) or a Uniform scale set. */
export const TARGET_KINDS = ['vm', 'scaleSet'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** The runs that encrypt a VM or a scale set (ADE, or encryption at host). */
const isEncryptRun = (orchestration: VmOrchestration): boolean =>
  orchestration === 'encryptVm' || orchestration === ENCRYPT_AT_HOST_RUN || orchestration === ENCRYPT_VMSS_RUN;

interface Target {
  kind: TargetKind;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** A VM id or a scale set id, parsed; undefined for anything else. */
export function targetOf(id: string): Target | undefined {
  try {
    return { kind: 'vm', ...parseVmId(id) };
  } catch {
    // not a VM: maybe a scale set
  }
  try {
    const parsed = parseResourceId(id, 'id');
    if (isResourceType(parsed, 'Microsoft.Compute/virtualMachineScaleSets') && parsed.resourceGroup && parsed.names.length === 1)
      return { kind: 'scaleSet', subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, name: parsed.names[0]! };
  } catch {
    // neither
  }
  return undefined;
}

/** One orchestration instance as the Durable status API shows it (input left out). */
export interface RunRecord {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

export const VM_STATES = ['pending', 'encrypted', 'failed', 'skipped'] as const;
/** pending: a run is in flight · encrypted · failed: the latest run failed · skipped: not encrypted by choice (scope, dry run). */
export type VmState = (typeof VM_STATES)[number];

const IN_FLIGHT = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

export interface RunView {
  instanceId: string;
  orchestration: VmOrchestration;
  runtimeStatus: string;
  inFlight: boolean;
  /** The run's current (or last) phase from its custom status. */
  phase?: string;
  detail?: string;
  startedAt: string;
  /** When the run ended (its last update once terminal). */
  endedAt?: string;
  /** encryptVm / restoreBek: their outcome; remediateVm: the action it took, or `failed`. */
  outcome?: string;
  reason?: string;
  failed: boolean;
  /** What the operator does about a failed run. */
  nextStep?: string;
}

export interface VmDisk {
  name: string;
  role: string;
  encryption: string;
}

export interface VmView {
  /** The VM's id, or the scale set's for `kind: 'scaleSet'`. */
  vmId: string;
  kind: TargetKind;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  state: VmState;
  /** The in-flight run's phase, else `done` / `failed`. */
  phase: string;
  os?: string;
  mode?: string;
  vaultName?: string;
  disks?: VmDisk[];
  /** Scale sets: each instance's last verdict (`encrypted`, `pending`, `stale`, `failed`). */
  instances?: Record<string, string>;
  /** Newest first. */
  runs: RunView[];
  lastUpdated: string;
  lastError?: { instanceId: string; reason: string; nextStep: string; at: string };
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function orchestrationOf(record: RunRecord): VmOrchestration | undefined {
  return ORCHESTRATIONS.includes(record.name) ? (record.name as VmOrchestration) : undefined;
}

/** The VM (or scale set) a run acts on: from its custom status or output (never from the instance id, a hash). */
export function vmIdOfRun(record: RunRecord): string | undefined {
  const status = obj(record.customStatus);
  const output = obj(record.output);
  const target = obj(status?.target) ?? obj(output?.target);
  const candidate =
    record.name === ENCRYPT_VMSS_RUN
      ? (str(status?.scaleSetId) ?? str(output?.scaleSetId))
      : (str(status?.vmId) ?? str(output?.vmId) ?? (target?.kind === 'vm' ? str(target.vmId) : undefined));
  if (!candidate) return undefined;
  const parsed = targetOf(candidate);
  return parsed && (parsed.kind === 'scaleSet') === (record.name === ENCRYPT_VMSS_RUN) ? candidate : undefined;
}

/**
 * The operator's next step for a failed run, from what failed. Restore problems carry their own
 * (`operatorAction`); the rest is matched on the reason the run recorded.
 */
export function nextStepFor(orchestration: VmOrchestration, reason: string, output?: unknown): string {
  const problems = obj(output)?.problems;
  if (Array.isArray(problems)) {
    const action = problems.map((p) => str(obj(p)?.operatorAction)).find(Boolean);
    if (action) return action;
  }
  const own = str(obj(output)?.operatorAction);
  if (own) return own;
  const retry =
    orchestration === ENCRYPT_VMSS_RUN
      ? 'POST /api/sweep (the backfill sweep starts the scale set again)'
      : isEncryptRun(orchestration)
        ? 'POST /api/vms/encrypt'
        : 'POST /api/vms/heal';
  if (/AuthorizationFailed|Forbidden|\b403\b|permission|not authori[sz]ed|does not have authorization/i.test(reason))
    return `Grant the app's managed identity the access named in the reason (see infra/README.md, role assignments), then ${retry}.`;
  if (/throttl|\b429\b|TooManyRequests/i.test(reason))
    return `Azure throttled the app; ${retry} once the subscription's read/write budget recovers.`;
  if (/timed? ?out|deadline|gave up waiting/i.test(reason))
    return `Check the ADE extension's status on the VM (az vm encryption show) and the VM's boot diagnostics, then ${retry}.`;
  if (/not ?found|\b404\b|ResourceNotFound/i.test(reason))
    return 'The VM or its vault no longer exists; nothing to do unless it was recreated (then POST /api/vms/encrypt).';
  if (/unsupported|not supported/i.test(reason))
    return 'ADE does not support this VM as configured; use encryption at host or exclude it (ADE_EXCLUSION_TAG).';
  if (/Invalid orchestration input/i.test(reason)) return `Start a fresh run with ${retry}.`;
  return `Read the run (GET /api/runs/{instanceId}), fix the cause named in the reason, then ${retry}.`;
}

/** One run as the operator sees it. */
export function runView(record: RunRecord): RunView | undefined {
  const orchestration = orchestrationOf(record);
  if (!orchestration) return undefined;
  const status = obj(record.customStatus);
  const output = obj(record.output);
  const inFlight = IN_FLIGHT.has(record.runtimeStatus);
  let outcome: string | undefined;
  let reason = str(output?.reason);
  let failed = false;
  if (!inFlight) {
    if (record.runtimeStatus !== 'Completed') {
      failed = true;
      outcome = 'failed';
      reason =
        str(record.output) ?? str(output?.message) ?? reason ?? str(status?.detail) ?? `the run was ${record.runtimeStatus.toLowerCase()}`;
    } else if (orchestration === 'remediateVm') {
      failed = output?.result === 'failed';
      outcome = failed ? 'failed' : (str(output?.action) ?? 'completed');
      if (failed && str(output?.detail)) reason = `${reason ?? 'remediation failed'}: ${str(output?.detail)}`;
    } else {
      outcome = str(output?.outcome) ?? 'completed';
      failed = ['failed', 'unrecoverable', 'action-required'].includes(outcome);
    }
  }
  const view: RunView = {
    instanceId: record.instanceId,
    orchestration,
    runtimeStatus: record.runtimeStatus,
    inFlight,
    startedAt: record.createdTime,
    failed,
  };
  const phase = str(status?.phase);
  if (phase) view.phase = phase;
  const detail = str(status?.detail);
  if (detail) view.detail = detail;
  if (!inFlight) view.endedAt = record.lastUpdatedTime;
  if (outcome) view.outcome = outcome;
  if (reason) view.reason = reason;
  if (failed) view.nextStep = nextStepFor(orchestration, reason ?? '', record.output);
  return view;
}

/** The state a finished run gives its VM; undefined = this run says nothing about it (look at an older one). */
function stateOfFinished(run: RunView, record: RunRecord): VmState | undefined {
  if (run.failed) return 'failed';
  const output = obj(record.output);
  if (isEncryptRun(run.orchestration))
    return run.outcome === 'encrypted' || run.outcome === 'already-encrypted'
      ? 'encrypted'
      : run.outcome === 'skipped'
        ? 'skipped'
        : undefined;
  if (run.orchestration === 'restoreBek') return run.outcome === 'restored' || run.outcome === 'recovered' ? 'encrypted' : undefined;
  if (output?.dryRun === true || output?.action === 'nothing') return undefined;
  return output?.result === 'succeeded' ? 'encrypted' : undefined;
}

/** Groups runs by VM (case-insensitive ids) into the fleet's rows. */
export function vmViews(records: readonly RunRecord[]): VmView[] {
  const byVm = new Map<string, { vmId: string; records: RunRecord[] }>();
  for (const record of records) {
    const vmId = vmIdOfRun(record);
    if (!vmId || !orchestrationOf(record)) continue;
    const key = normaliseResourceId(vmId);
    const entry = byVm.get(key) ?? { vmId, records: [] };
    entry.records.push(record);
    if (record.name === VM_RUN_PREFIXES.encrypt || record.name === ENCRYPT_AT_HOST_RUN || record.name === ENCRYPT_VMSS_RUN)
      entry.vmId = vmId;
    byVm.set(key, entry);
  }
  return [...byVm.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, { vmId, records: rs }]) => vmView(vmId, rs));
}

/** One VM from its runs. */
export function vmView(vmId: string, records: readonly RunRecord[]): VmView {
  const sorted = [...records].sort((a, b) => Date.parse(b.lastUpdatedTime) - Date.parse(a.lastUpdatedTime));
  const pairs = sorted.flatMap((record) => {
    const run = runView(record);
    return run ? [{ run, record }] : [];
  });
  const parsed = targetOf(vmId);
  if (!parsed) throw new ValidationError(`not a virtual machine or scale set id: ${JSON.stringify(vmId)}`, { field: 'vmId' });
  const active = pairs.find((p) => p.run.inFlight);
  let state: VmState = 'pending';
  if (!active) {
    state = 'skipped';
    for (const p of pairs) {
      const s = stateOfFinished(p.run, p.record);
      if (s) {
        state = s;
        break;
      }
    }
  }
  const encrypt = pairs.find((p) => isEncryptRun(p.run.orchestration));
  const eStatus = obj(encrypt?.record.customStatus);
  const eOutput = obj(encrypt?.record.output);
  const view: VmView = {
    vmId,
    kind: parsed.kind,
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    name: parsed.name,
    state,
    phase: active ? (active.run.phase ?? active.run.runtimeStatus.toLowerCase()) : state === 'failed' ? 'failed' : 'done',
    runs: pairs.map((p) => p.run),
    lastUpdated: sorted[0]?.lastUpdatedTime ?? '',
  };
  const os = str(eStatus?.osType) ?? str(eOutput?.osType);
  if (os) view.os = os;
  const mode =
    str(eStatus?.mode) ?? str(eOutput?.mode) ?? (encrypt?.run.orchestration === ENCRYPT_AT_HOST_RUN ? 'encryption-at-host' : undefined);
  if (mode) view.mode = mode;
  const vaultName = str(eStatus?.vaultName) ?? str(eOutput?.vaultName);
  if (vaultName) view.vaultName = vaultName;
  if (Array.isArray(eOutput?.disks))
    view.disks = (eOutput.disks as unknown[]).flatMap((d) => {
      const disk = obj(d);
      return disk && str(disk.name) ? [{ name: str(disk.name)!, role: str(disk.role) ?? '', encryption: str(disk.encryption) ?? '' }] : [];
    });
  const instances = obj(eStatus?.instances) ?? obj(eOutput?.instances);
  if (parsed.kind === 'scaleSet' && instances)
    view.instances = Object.fromEntries(Object.entries(instances).flatMap(([id, v]) => (str(v) ? [[id, str(v)!]] : [])));
  const lastFailed = pairs.find((p) => p.run.failed);
  if (lastFailed && state === 'failed')
    view.lastError = {
      instanceId: lastFailed.run.instanceId,
      reason: lastFailed.run.reason ?? 'the run failed',
      nextStep: lastFailed.run.nextStep!,
      at: lastFailed.run.endedAt ?? lastFailed.record.lastUpdatedTime,
    };
  return view;
}

// --- the list endpoint's query -------------------------------------------------------------------

export interface FleetQuery {
  state?: VmState;
  kind?: TargetKind;
  subscription?: string;
  resourceGroup?: string;
  os?: 'Windows' | 'Linux';
  mode?: 'aad' | 'single-pass';
  top: number;
  /** Opaque: where the previous page ended. */
  continuationToken?: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** Parses `?state=&subscription=&resourceGroup=&os=&mode=&top=&continuationToken=`; a bad value names its parameter. */
export function parseFleetQuery(params: { get(name: string): string | null }): FleetQuery {
  const get = (name: string): string | undefined => {
    const v = params.get(name);
    return v === null || v.trim() === '' ? undefined : v.trim();
  };
  const oneOf = <T extends string>(name: string, values: readonly T[]): T | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const match = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (!match) throw new ValidationError(`${name} must be one of ${values.join(', ')}: got ${JSON.stringify(v)}`, { field: name });
    return match;
  };
  const query: FleetQuery = { top: DEFAULT_PAGE_SIZE };
  const state = oneOf('state', VM_STATES);
  if (state) query.state = state;
  const kind = oneOf('kind', TARGET_KINDS);
  if (kind) query.kind = kind;
  const os = oneOf('os', ['Windows', 'Linux'] as const);
  if (os) query.os = os;
  const mode = oneOf('mode', ['aad', 'single-pass'] as const);
  if (mode) query.mode = mode;
  const subscription = get('subscription');
  if (subscription !== undefined) {
    if (!isGuid(subscription))
      throw new ValidationError(`subscription must be a subscription id (GUID): got ${JSON.stringify(subscription)}`, {
        field: 'subscription',
      });
    query.subscription = subscription;
  }
  const resourceGroup = get('resourceGroup');
  if (resourceGroup !== undefined) {
    if (!isResourceGroupName(resourceGroup))
      throw new ValidationError(`resourceGroup must be a resource group name: got ${JSON.stringify(resourceGroup)}`, {
        field: 'resourceGroup',
      });
    query.resourceGroup = resourceGroup;
  }
  const top = get('top');
  if (top !== undefined) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE)
      throw new ValidationError(`top must be an integer 1–${MAX_PAGE_SIZE}: got ${JSON.stringify(top)}`, { field: 'top' });
    query.top = n;
  }
  const token = get('continuationToken');
  if (token !== undefined) {
    const after = decodeToken(token);
    if (after === undefined) throw new ValidationError('continuationToken is not one this API returned', { field: 'continuationToken' });
    query.continuationToken = token;
  }
  return query;
}

const sortKeys = new WeakMap<VmView, string>();
/** The order of the fleet: the normalised VM id, as vmViews sorts (computed once per view). */
function sortKey(vm: VmView): string {
  let key = sortKeys.get(vm);
  if (key === undefined) sortKeys.set(vm, (key = normaliseResourceId(vm.vmId)));
  return key;
}

function encodeToken(vmId: string): string {
  return Buffer.from(normaliseResourceId(vmId), 'utf8').toString('base64url');
}
function decodeToken(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,3000}$/.test(token)) return undefined;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  return targetOf(text) ? text : undefined;
}

export interface FleetPage {
  vms: Array<Omit<VmView, 'runs'>>;
  /** Per state, over the VMs that match every filter except `state`. */
  counts: Record<VmState, number> & { total: number };
  continuationToken?: string;
}

/** Filters, counts and pages the fleet (ordered by VM id, case-insensitive). */
export function fleetPage(all: readonly VmView[], query: FleetQuery): FleetPage {
  const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  const matching = all.filter(
    (vm) =>
      (!query.subscription || same(vm.subscriptionId, query.subscription)) &&
      (!query.resourceGroup || same(vm.resourceGroup, query.resourceGroup)) &&
      (!query.os || vm.os === query.os) &&
      (!query.mode || vm.mode === query.mode) &&
      (!query.kind || vm.kind === query.kind),
  );
  const counts = { pending: 0, encrypted: 0, failed: 0, skipped: 0, total: matching.length };
  for (const vm of matching) counts[vm.state]++;
  const after = query.continuationToken ? decodeToken(query.continuationToken) : undefined;
  const rows = matching.filter((vm) => (!query.state || vm.state === query.state) && (!after || sortKey(vm) > after));
  const page = rows.slice(0, query.top);
  const result: FleetPage = { vms: page.map(({ runs: _runs, ...rest }) => rest), counts };
  if (rows.length > query.top) result.continuationToken = encodeToken(page.at(-1)!.vmId);
  return result;
}

// --- detail and summary -------------------------------------------------------------------------

/** The VM id a detail request names; a bad segment names its field. */
export function vmIdFromSegments(subscription: string | undefined, resourceGroup: string | undefined, name: string | undefined): string {
  if (!subscription || !isGuid(subscription))
    throw new ValidationError(`subscription must be a subscription id (GUID): got ${JSON.stringify(subscription ?? '')}`, {
      field: 'subscription',
    });
  if (!resourceGroup || !isResourceGroupName(resourceGroup))
    throw new ValidationError(`resourceGroup must be a resource group name: got ${JSON.stringify(resourceGroup ?? '')}`, {
      field: 'resourceGroup',
    });
  if (!name || !isVmName(name))
    throw new ValidationError(`name must be a virtual machine name: got ${JSON.stringify(name ?? '')}`, { field: 'name' });
  return formatVmId({ subscriptionId: subscription, resourceGroup, name });
}

export interface FleetSummary {
  counts: Record<VmState, number> & { total: number };
  /** Rows per kind: VMs and Uniform scale sets. */
  byKind: Record<TargetKind, number>;
  /** Runs that failed in the 24 hours before `now`. */
  failuresLast24h: number;
  /** The oldest run still in flight. */
  oldestInFlight?: { instanceId: string; vmId: string; orchestration: string; phase?: string; startedAt: string; ageSeconds: number };
  /** Any sweep running (backfill, bek-health). */
  sweeps: Array<{ instanceId: string; runtimeStatus: string; customStatus: unknown }>;
}

export function fleetSummary(vms: readonly VmView[], sweeps: readonly RunRecord[], now: number): FleetSummary {
  const counts = { pending: 0, encrypted: 0, failed: 0, skipped: 0, total: vms.length };
  const byKind: Record<TargetKind, number> = { vm: 0, scaleSet: 0 };
  let failuresLast24h = 0;
  let oldest: FleetSummary['oldestInFlight'];
  for (const vm of vms) {
    counts[vm.state]++;
    byKind[vm.kind]++;
    for (const run of vm.runs) {
      if (run.failed && run.endedAt && now - Date.parse(run.endedAt) <= 24 * 3600_000) failuresLast24h++;
      if (run.inFlight && (!oldest || Date.parse(run.startedAt) < Date.parse(oldest.startedAt)))
        oldest = {
          instanceId: run.instanceId,
          vmId: vm.vmId,
          orchestration: run.orchestration,
          ...(run.phase ? { phase: run.phase } : {}),
          startedAt: run.startedAt,
          ageSeconds: Math.max(0, Math.round((now - Date.parse(run.startedAt)) / 1000)),
        };
    }
  }
  return {
    counts,
    byKind,
    failuresLast24h,
    ...(oldest ? { oldestInFlight: oldest } : {}),
    sweeps: sweeps.map((s) => ({ instanceId: s.instanceId, runtimeStatus: s.runtimeStatus, customStatus: s.customStatus ?? null })),
  };
}
