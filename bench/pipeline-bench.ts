/**
 * Pipeline benchmark on the simulator: `npm run bench:pipeline -- [--vms 1,100,1000] [--modes single-pass,aad]
 * [--scale-sets K --instances M] [--speed 60] [--timeout 1800] [--arm-budget writes=50/1,reads=100/5] [--out FILE]
 * [--check]`.
 *
 * For each mode and N it starts a fresh `npm start` stack (simulator in this process, host child on the
 * built app, events wired through Event Grid), creates N VMs in one burst through @azure/arm-compute as
 * a user (half Windows, half Linux, three regions), waits until every orchestration is terminal, and
 * reports — from the simulator's request log, filtered to the app's principal — ARM reads and writes,
 * Graph writes and Key Vault operations per VM; time from the VM PUT to the app's extension PUT
 * (p50/p99); makespan against the ARM budget floor; throttled answers; failures. One clock: every figure is
 * real time; `--speed` only shortens the simulator's slow operations (VM create, extension and encryption runs),
 * while ARM's token buckets refill in real time. Ratios, not pass/fail; `--check` (the CI smoke size,
 * `npm run bench:smoke`) exits 1 unless every VM ends encrypted, so a broken benchmark fails CI. Not part of `npm test`.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callsBy, percentile, perVm, ratio, type RequestCountsSnapshot } from '../local/demo/metrics';
import { Session, TERMINAL, type InstanceStatus, type OsKind } from '../local/demo/session';
import { DEMO_RESOURCE_GROUP } from '../local/start/stack';
import { ENCRYPT_VM_ORCHESTRATOR } from '../orchestrations/contracts';
import { ENCRYPT_VMSS_ORCHESTRATOR } from '../orchestrations/scale-set-contracts';
import { bucketFloorS, READ_STEPS, readsByStep, type ArmLogEntry, type ReadStep } from './read-steps';
import { pool, REGIONS, REPO_ROOT, runInChild, runMain, startBenchStack, vmSpecs, writeRawFigures } from './stack-run';
const CREATE_CONCURRENCY = 64;
const BENCH_POLL_SECONDS = 30;

interface LogEntry {
  seq: number;
  time: string;
  operation: string;
  path: string;
  status: number;
  principal: string;
}

export interface RunResult {
  mode: 'single-pass' | 'aad';
  vms: number;
  /** Speed-up of the simulator's slow operations (the clock is real time). */
  speed: number;
  encrypted: number;
  otherOutcomes: Record<string, number>;
  failed: number;
  unfinished: number;
  perVm: { armReads: number; armWrites: number; armDeletes: number; graphWrites: number; graphReads: number; keyVaultOperations: number };
  /** The app's accepted ARM reads per VM, by pipeline step (bench/read-steps.ts). */
  armReadsPerVmByStep: Record<ReadStep, number>;
  /** ARM 429 answers to the app (not counted in perVm). */
  appThrottled429: number;
  /** Seconds from the user's VM PUT to the app's first extension PUT (request log). */
  createToExtensionS: { p50: number | undefined; p99: number | undefined };
  burstMs: number;
  /** First VM PUT → every run terminal (observed by polling), ms. */
  makespanMs: number;
  /** First VM PUT → the app's last call (request log), seconds. */
  makespanLastCallS: number;
  /** The least time ARM's buckets allow for the app's writes / reads, seconds. */
  armWriteFloorS: number;
  armReadFloorS: number;
  throttling: { writes: { bucketSize: number; refillPerSecond: number }; reads: { bucketSize: number; refillPerSecond: number } };
}

function vmNameOf(entryPath: string): string | undefined {
  return /\/virtualMachines\/([^/?]+)/i.exec(entryPath)?.[1]?.toLowerCase();
}

/** Collects log entries of one operation and principal incrementally (the log keeps only the last 50,000). */
class LogTail {
  private since = 0;
  readonly firstByVm = new Map<string, number>();
  constructor(
    private readonly session: Session,
    private readonly operation: string,
    private readonly principal: string,
    private readonly match: (e: LogEntry) => boolean,
  ) {}
  async poll(): Promise<void> {
    const q = new URLSearchParams({ operation: this.operation, principal: this.principal, since: String(this.since), limit: '50000' });
    const res = await this.session.control<{ lastSeq: number; value: LogEntry[] }>('GET', `/_sim/requests?${q.toString()}`);
    for (const e of res.value) {
      if (!this.match(e)) continue;
      const vm = vmNameOf(e.path);
      if (vm && !this.firstByVm.has(vm)) this.firstByVm.set(vm, Date.parse(e.time));
    }
    this.since = res.lastSeq;
  }
}

/** Every ARM entry of one principal, collected incrementally (the log keeps only the last 50,000 requests). */
class ArmTail {
  private since = 0;
  readonly entries: ArmLogEntry[] = [];
  constructor(
    private readonly session: Session,
    private readonly principal: string,
  ) {}
  async poll(): Promise<void> {
    const q = new URLSearchParams({ service: 'arm', principal: this.principal, since: String(this.since), limit: '50000' });
    const res = await this.session.control<{ lastSeq: number; value: Array<LogEntry & { method: string }> }>(
      'GET',
      `/_sim/requests?${q.toString()}`,
    );
    for (const e of res.value)
      this.entries.push({ time: e.time, operation: e.operation, method: e.method, path: e.path, status: e.status });
    this.since = res.lastSeq;
  }
  async skipToNow(): Promise<void> {
    this.since = (await this.session.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
  }
}

/** ARM token buckets per subscription and principal, e.g. `writes=50/2,reads=100/5` (bucket size / refill per second). */
export type ArmBudget = Partial<Record<'reads' | 'writes', { bucketSize: number; refillPerSecond: number }>>;

export function parseArmBudget(text: string): ArmBudget {
  const budget: ArmBudget = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^(reads|writes)=(\d+)\/(\d+(?:\.\d+)?)$/.exec(part);
    if (!match) throw new Error(`--arm-budget takes reads=<bucket>/<refill per s> and/or writes=<bucket>/<refill per s>, got '${part}'`);
    budget[match[1] as 'reads' | 'writes'] = { bucketSize: Number(match[2]), refillPerSecond: Number(match[3]) };
  }
  return budget;
}

export async function runOnce(
  mode: 'single-pass' | 'aad',
  vms: number,
  speed: number,
  timeoutMs: number,
  log: (line: string) => void,
  budget: ArmBudget = {},
): Promise<RunResult> {
  const { stateRoot, stack } = await startBenchStack({
    label: `ade-bench-${mode}-${vms}`,
    speed,
    // Polls at Azure's minimum interval (30 s), not npm start's 5 s: a fleet-sized burst is measured as in Azure.
    env: { ADE_ENCRYPTION_MODE: mode, ADE_TAG_OUTCOME: 'false', ADE_LOCAL_POLL_SECONDS: String(BENCH_POLL_SECONDS) },
    hostLogLevel: 'warning',
  });
  let succeeded = false;
  try {
    const session = await Session.connect(stateRoot);
    const app = session.state.automationObjectId;
    const user = session.state.user.objectId;
    if (Object.keys(budget).length > 0) await session.control('PATCH', '/_sim/arm/config', { throttling: { enabled: true, ...budget } });
    const config = await session.control<{ throttling: RunResult['throttling'] & { enabled: boolean } }>('GET', '/_sim/arm/config');
    const before = await session.control<RequestCountsSnapshot>('GET', '/_sim/requests/counts');
    const creates = new LogTail(
      session,
      'Microsoft.Compute/virtualMachines/write',
      user,
      (e) => e.status < 300 && !/\/extensions\//i.test(e.path),
    );
    const extensions = new LogTail(session, 'Microsoft.Compute/virtualMachines/extensions/write', app, (e) => e.status < 300);
    const armCalls = new ArmTail(session, app);
    await armCalls.skipToNow(); // only what the app does from here on, like the before/after counts
    // 429 answers are in the request counts too; they are tallied per class so the per-VM figures count accepted calls only.
    const throttled = { count: 0, since: 0, reads: 0, writes: 0 };
    const pollThrottled = async () => {
      const res = await session.control<{ lastSeq: number; value: Array<LogEntry & { service: string; method: string }> }>(
        'GET',
        `/_sim/requests?principal=${app}&status=429&since=${throttled.since}&limit=50000`,
      );
      for (const e of res.value) {
        if (e.service !== 'arm') continue;
        throttled.count++;
        if (e.method === 'GET' || e.method === 'HEAD') throttled.reads++;
        else if (e.method !== 'DELETE') throttled.writes++;
      }
      throttled.since = res.lastSeq;
    };

    const specs = vmSpecs('bench', vms);
    const burstStart = Date.now();
    await pool(specs, CREATE_CONCURRENCY, async (spec) => {
      // A tight --arm-budget throttles the user too; a user (or az) would retry, so the burst does.
      for (let attempt = 1; ; attempt++) {
        try {
          await session.createVm(spec);
          return;
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode !== 429 || attempt >= 100) throw error;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    });
    const burstMs = Date.now() - burstStart;
    log(`  ${mode} N=${vms}: ${vms} VM PUTs accepted in ${(burstMs / 1000).toFixed(1)} s`);

    const deadline = Date.now() + timeoutMs;
    let statuses: InstanceStatus[] = [];
    let lastReport = 0;
    let hostExit: number | string | undefined;
    void stack.host.exited.then((code) => (hostExit = code));
    let pollFailures = 0;
    for (;;) {
      try {
        await creates.poll();
        await extensions.poll();
        await armCalls.poll();
        await pollThrottled();
        statuses = (await session.instances()).filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR);
        pollFailures = 0;
      } catch (error) {
        // A saturated host or simulator may drop a status request; only a dead host or a long outage ends the run.
        if (hostExit !== undefined) throw new Error(`the host exited (${hostExit}) during the run; its log: ${stack.hostLogFile}`);
        if (++pollFailures >= 20) throw error;
        log(`  ${mode} N=${vms}: status poll failed (${error instanceof Error ? error.message : String(error)}); retrying`);
        await new Promise((r) => setTimeout(r, 3000));
        continue;
      }
      const terminal = statuses.filter((s) => TERMINAL.has(s.runtimeStatus)).length;
      if (statuses.length >= vms && terminal === statuses.length) break;
      if (Date.now() > deadline) {
        log(`  ${mode} N=${vms}: timed out with ${terminal}/${vms} finished`);
        break;
      }
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        log(
          `  ${mode} N=${vms}: ${statuses.length} started, ${terminal} finished after ${((Date.now() - burstStart) / 1000).toFixed(0)} s`,
        );
      }
      await new Promise((r) => setTimeout(r, vms > 100 ? 2000 : 500));
    }
    // Observed by polling (error ≤ one poll interval); the last-call figure comes from the request log.
    const makespanMs = Date.now() - burstStart;
    const lastAppCall = (await session.control<{ value: LogEntry[] }>('GET', `/_sim/requests?principal=${app}&limit=1`)).value[0];
    await creates.poll();
    await extensions.poll();
    await armCalls.poll();
    await pollThrottled();
    const after = await session.control<RequestCountsSnapshot>('GET', '/_sim/requests/counts');
    const calls = callsBy(app, before, after);
    calls.armReads -= throttled.reads;
    calls.armWrites -= throttled.writes;

    const delays: number[] = [];
    for (const [vm, extensionAt] of extensions.firstByVm) {
      const createdAt = creates.firstByVm.get(vm);
      if (createdAt !== undefined) delays.push((extensionAt - createdAt) / 1000);
    }
    const otherOutcomes: Record<string, number> = {};
    let encrypted = 0;
    let failed = 0;
    const failureReasons = new Map<string, number>();
    for (const s of statuses) {
      const output = typeof s.output === 'object' && s.output ? s.output : undefined;
      const failedRun = s.runtimeStatus === 'Completed' ? output?.outcome === 'failed' : TERMINAL.has(s.runtimeStatus);
      if (failedRun) {
        const reason = String(output?.reason ?? output?.message ?? s.output ?? s.runtimeStatus).slice(0, 300);
        failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
      }
    }
    for (const [reason, count] of failureReasons) log(`  ${mode} N=${vms}: ${count} failed: ${reason}`);
    for (const s of statuses) {
      if (s.runtimeStatus === 'Completed') {
        const outcome = typeof s.output === 'object' && s.output ? (s.output.outcome ?? 'completed') : 'completed';
        if (outcome === 'encrypted') encrypted++;
        else if (outcome === 'failed')
          failed++; // a run that handled its failure (compensated) still failed the VM
        else otherOutcomes[outcome] = (otherOutcomes[outcome] ?? 0) + 1;
      } else if (TERMINAL.has(s.runtimeStatus)) failed++;
    }
    const t = config.throttling;
    const floor = (count: number, limit: { bucketSize: number; refillPerSecond: number }) => (t.enabled ? bucketFloorS(count, limit) : 0);
    const steps = readsByStep(armCalls.entries);
    const p = (q: number) => percentile(delays, q);
    const result: RunResult = {
      mode,
      vms,
      speed,
      encrypted,
      otherOutcomes,
      failed,
      unfinished: vms - statuses.filter((s) => TERMINAL.has(s.runtimeStatus)).length,
      perVm: {
        armReads: perVm(calls.armReads, vms),
        armWrites: perVm(calls.armWrites, vms),
        armDeletes: perVm(calls.armDeletes, vms),
        graphWrites: perVm(calls.graphWrites, vms),
        graphReads: perVm(calls.graphReads, vms),
        keyVaultOperations: perVm(calls.keyVaultOperations, vms),
      },
      armReadsPerVmByStep: Object.fromEntries(READ_STEPS.map((step) => [step, perVm(steps[step], vms)])) as Record<ReadStep, number>,
      appThrottled429: throttled.count,
      createToExtensionS: { p50: p(50), p99: p(99) },
      burstMs,
      makespanMs,
      makespanLastCallS:
        lastAppCall && creates.firstByVm.size > 0
          ? (Date.parse(lastAppCall.time) - Math.min(...creates.firstByVm.values())) / 1000
          : makespanMs / 1000,
      armWriteFloorS: floor(calls.armWrites + calls.armDeletes, t.writes),
      armReadFloorS: floor(calls.armReads, t.reads),
      throttling: { writes: t.writes, reads: t.reads },
    };
    succeeded = true;
    return result;
  } finally {
    await stack.stop();
    // A failed run keeps its state folder (host log, durable store, simulator state) for a post-mortem.
    if (succeeded) rmSync(stateRoot, { recursive: true, force: true });
    else log(`  ${mode} N=${vms}: state kept for inspection in ${stateRoot}`);
  }
}

/** One run of `--scale-sets K --instances M`: K Uniform scale sets of M instances each, encrypted by encryptVmss. */
export interface ScaleSetRunResult {
  scaleSets: number;
  instancesPerSet: number;
  speed: number;
  encrypted: number;
  otherOutcomes: Record<string, number>;
  failed: number;
  unfinished: number;
  /** The app's accepted ARM calls per scale set and per instance (vault calls included, 429s not). */
  perScaleSet: { armReads: number; armWrites: number };
  perInstance: { armReads: number; armWrites: number };
  /** Accepted ARM calls per scale set by what they touch. */
  perScaleSetByTarget: Record<ScaleSetCallTarget, { reads: number; writes: number }>;
  /** The `other` calls by ARM operation (totals over the run). */
  otherOperations: Record<string, number>;
  appThrottled429: number;
  burstMs: number;
  makespanMs: number;
}

export const SCALE_SET_CALL_TARGETS = ['scale set', 'instances', 'model extension', 'manualUpgrade', 'vault', 'other'] as const;
export type ScaleSetCallTarget = (typeof SCALE_SET_CALL_TARGETS)[number];

/** What an ARM call of a scale set run touches, from its path. */
export function scaleSetCallTarget(entryPath: string): ScaleSetCallTarget {
  const p = entryPath.split('?')[0]!.toLowerCase();
  // The vault and its Event Grid subscription (the vault step shared with the VM path).
  if (p.includes('/microsoft.keyvault/') || p.includes('/microsoft.eventgrid/')) return 'vault';
  if (/\/virtualmachinescalesets\/[^/]+\/extensions\//.test(p)) return 'model extension';
  if (/\/virtualmachinescalesets\/[^/]+\/manualupgrade$/.test(p)) return 'manualUpgrade';
  if (/\/virtualmachinescalesets\/[^/]+\/virtualmachines(\/|$)/.test(p)) return 'instances';
  if (/\/virtualmachinescalesets\/[^/]+$/.test(p)) return 'scale set';
  return 'other';
}

export async function runScaleSets(
  scaleSets: number,
  instancesPerSet: number,
  speed: number,
  timeoutMs: number,
  log: (line: string) => void,
  budget: ArmBudget = {},
): Promise<ScaleSetRunResult> {
  const { stateRoot, stack } = await startBenchStack({
    label: `ade-bench-vmss-${scaleSets}x${instancesPerSet}`,
    speed,
    env: { ADE_ENCRYPTION_MODE: 'single-pass', ADE_TAG_OUTCOME: 'false', ADE_LOCAL_POLL_SECONDS: String(BENCH_POLL_SECONDS) },
    hostLogLevel: 'warning',
  });
  let succeeded = false;
  try {
    const session = await Session.connect(stateRoot);
    const app = session.state.automationObjectId;
    if (Object.keys(budget).length > 0) await session.control('PATCH', '/_sim/arm/config', { throttling: { enabled: true, ...budget } });
    const armCalls = new ArmTail(session, app);
    await armCalls.skipToNow();
    const label = `scale sets ${scaleSets}×${instancesPerSet}`;
    // Half Windows under a Manual upgrade policy (the app upgrades the instances), half Linux under Automatic.
    const specs = Array.from({ length: scaleSets }, (_, i) => ({
      name: `bench-ss-${i % 2 === 0 ? 'win' : 'lnx'}-${i}`,
      os: (i % 2 === 0 ? 'Windows' : 'Linux') as OsKind,
      location: REGIONS[i % REGIONS.length]!,
    }));
    const burstStart = Date.now();
    await pool(specs, CREATE_CONCURRENCY, async (spec) => {
      await session.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
        DEMO_RESOURCE_GROUP,
        spec.name,
        {
          location: spec.location,
          sku: { name: 'Standard_D2s_v5', capacity: instancesPerSet },
          orchestrationMode: 'Uniform',
          upgradePolicy: { mode: spec.os === 'Windows' ? 'Manual' : 'Automatic' },
          virtualMachineProfile: {
            osProfile: { computerNamePrefix: 'bss', adminUsername: 'azureuser', adminPassword: 'Bench-Passw0rd-not-secret' },
            storageProfile: {
              imageReference:
                spec.os === 'Windows'
                  ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
                  : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
              osDisk: { createOption: 'FromImage', osType: spec.os, managedDisk: { storageAccountType: 'Premium_LRS' } },
              dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 32 }],
            },
          },
        },
        { updateIntervalInMs: 250 },
      );
    });
    const burstMs = Date.now() - burstStart;
    log(`  ${label}: ${scaleSets} scale set PUTs done in ${(burstMs / 1000).toFixed(1)} s`);
    const deadline = Date.now() + timeoutMs;
    let statuses: InstanceStatus[] = [];
    for (;;) {
      await armCalls.poll();
      statuses = (await session.instances()).filter((st) => st.name === ENCRYPT_VMSS_ORCHESTRATOR);
      const terminal = statuses.filter((st) => TERMINAL.has(st.runtimeStatus)).length;
      if (statuses.length >= scaleSets && terminal === statuses.length) break;
      if (Date.now() > deadline) {
        log(`  ${label}: timed out with ${terminal}/${scaleSets} finished`);
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const makespanMs = Date.now() - burstStart;
    await armCalls.poll();
    const otherOutcomes: Record<string, number> = {};
    let encrypted = 0;
    let failed = 0;
    for (const st of statuses) {
      const output = typeof st.output === 'object' && st.output ? st.output : undefined;
      const outcome = st.runtimeStatus === 'Completed' ? (output?.outcome ?? 'completed') : 'failed';
      if (outcome === 'encrypted') encrypted++;
      else if (outcome === 'failed') {
        failed++;
        log(`  ${label}: failed: ${String(output?.reason ?? st.output ?? st.runtimeStatus).slice(0, 300)}`);
      } else otherOutcomes[outcome] = (otherOutcomes[outcome] ?? 0) + 1;
    }
    const byTarget = Object.fromEntries(SCALE_SET_CALL_TARGETS.map((t) => [t, { reads: 0, writes: 0 }])) as Record<
      ScaleSetCallTarget,
      { reads: number; writes: number }
    >;
    const otherOperations: Record<string, number> = {};
    let throttled = 0;
    let reads = 0;
    let writes = 0;
    for (const e of armCalls.entries) {
      if (e.operation.toLowerCase().startsWith('microsoft.resourcegraph/')) continue;
      if (e.status === 429) {
        throttled++;
        continue;
      }
      const isRead = e.method === 'GET' || e.method === 'HEAD';
      const target = scaleSetCallTarget(e.path);
      const bucket = byTarget[target];
      if (target === 'other') otherOperations[`${e.method} ${e.operation}`] = (otherOperations[`${e.method} ${e.operation}`] ?? 0) + 1;
      if (isRead) {
        reads++;
        bucket.reads++;
      } else {
        writes++;
        bucket.writes++;
      }
    }
    const instances = scaleSets * instancesPerSet;
    const result: ScaleSetRunResult = {
      scaleSets,
      instancesPerSet,
      speed,
      encrypted,
      otherOutcomes,
      failed,
      unfinished: scaleSets - statuses.filter((st) => TERMINAL.has(st.runtimeStatus)).length,
      perScaleSet: { armReads: perVm(reads, scaleSets), armWrites: perVm(writes, scaleSets) },
      perInstance: { armReads: perVm(reads, instances), armWrites: perVm(writes, instances) },
      perScaleSetByTarget: Object.fromEntries(
        SCALE_SET_CALL_TARGETS.map((t) => [
          t,
          { reads: perVm(byTarget[t].reads, scaleSets), writes: perVm(byTarget[t].writes, scaleSets) },
        ]),
      ) as ScaleSetRunResult['perScaleSetByTarget'],
      otherOperations,
      appThrottled429: throttled,
      burstMs,
      makespanMs,
    };
    succeeded = true;
    return result;
  } finally {
    await stack.stop();
    if (succeeded) rmSync(stateRoot, { recursive: true, force: true });
    else log(`  scale sets: state kept for inspection in ${stateRoot}`);
  }
}

/** Per scale set and per instance, beside each other, and per scale set by what the calls touch. */
export function scaleSetTable(results: readonly ScaleSetRunResult[]): string {
  const targets = SCALE_SET_CALL_TARGETS.map((t) => `${t} R/W per set`);
  const header =
    '| Scale sets × instances | Encrypted | Failed / unfinished | ARM reads / set | ARM writes / set | ARM reads / instance | ' +
    `ARM writes / instance | ${targets.join(' | ')} | App 429s | Makespan |`;
  const sep = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const rows = results.map(
    (r) =>
      `| ${[
        `${r.scaleSets} × ${r.instancesPerSet}`,
        `${r.encrypted}${Object.keys(r.otherOutcomes).length ? ` (+${JSON.stringify(r.otherOutcomes)})` : ''}`,
        `${r.failed} / ${r.unfinished}`,
        ratio(r.perScaleSet.armReads),
        ratio(r.perScaleSet.armWrites),
        ratio(r.perInstance.armReads),
        ratio(r.perInstance.armWrites),
        ...SCALE_SET_CALL_TARGETS.map((t) => `${ratio(r.perScaleSetByTarget[t].reads)} / ${ratio(r.perScaleSetByTarget[t].writes)}`),
        r.appThrottled429,
        `${fmt(r.makespanMs / 1000)} s`,
      ].join(' | ')} |`,
  );
  return [header, sep, ...rows].join('\n');
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? '–' : n.toFixed(digits);
}

export function markdownTable(results: readonly RunResult[]): string {
  const header =
    '| Mode | VMs | Encrypted | Failed / unfinished | ARM reads/VM | ARM writes/VM | Graph writes/VM | ' +
    'Key Vault ops/VM | App 429s | VM PUT → extension PUT p50 / p99 | Makespan | ARM read floor | ARM write floor | ' +
    'Makespan ÷ largest floor |';
  const sep = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const rows = results.map((r) =>
    [
      r.mode,
      r.vms,
      `${r.encrypted}${Object.keys(r.otherOutcomes).length ? ` (+${JSON.stringify(r.otherOutcomes)})` : ''}`,
      `${r.failed} / ${r.unfinished}`,
      ratio(r.perVm.armReads),
      ratio(r.perVm.armWrites + r.perVm.armDeletes),
      ratio(r.perVm.graphWrites),
      ratio(r.perVm.keyVaultOperations),
      r.appThrottled429,
      `${fmt(r.createToExtensionS.p50)} s / ${fmt(r.createToExtensionS.p99)} s`,
      `${fmt(r.makespanMs / 1000)} s`,
      `${fmt(r.armReadFloorS, 0)} s`,
      `${fmt(r.armWriteFloorS, 0)} s`,
      Math.max(r.armReadFloorS, r.armWriteFloorS) > 0
        ? `${(r.makespanLastCallS / Math.max(r.armReadFloorS, r.armWriteFloorS)).toFixed(1)}×`
        : 'within the buckets',
    ].join(' | '),
  );
  return [header, sep, ...rows.map((r) => `| ${r} |`)].join('\n');
}

/** ARM reads per VM by pipeline step, beside the read and write floors (bench/read-steps.ts). */
export function readStepsTable(results: readonly RunResult[]): string {
  const stepColumns = READ_STEPS.map((s) => `${s} reads/VM`).join(' | ');
  const header = `| Mode | VMs | ${stepColumns} | Total reads/VM | ARM read floor | ARM write floor |`;
  const sep = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const rows = results.map((r) => {
    const steps = r.armReadsPerVmByStep ?? ({} as Partial<Record<ReadStep, number>>);
    const total = READ_STEPS.reduce((sum, s) => sum + (steps[s] ?? 0), 0);
    return `| ${[
      r.mode,
      r.vms,
      ...READ_STEPS.map((s) => ratio(steps[s] ?? 0)),
      ratio(total),
      `${fmt(r.armReadFloorS, 0)} s`,
      `${fmt(r.armWriteFloorS, 0)} s`,
    ].join(' | ')} |`;
  });
  return [header, sep, ...rows].join('\n');
}

/** One run in a child process (bench/stack-run.ts runInChild). */
function runCaseInChild(mode: string, vms: number, speed: number, timeoutMs: number, budgetText: string): Promise<RunResult> {
  const args = ['--one-run', `${mode}:${vms}`, '--speed', String(speed), '--timeout', String(timeoutMs / 1000)];
  if (budgetText) args.push('--arm-budget', budgetText);
  return runInChild<RunResult>(__filename, args, `run ${mode} N=${vms}`);
}

/** The `--scale-sets` run in a child process. */
function runScaleSetsInChild(sets: number, instances: number, speed: number, timeoutMs: number, budgetText: string) {
  const args = ['--one-run', `vmss:${sets}:${instances}`, '--speed', String(speed), '--timeout', String(timeoutMs / 1000)];
  if (budgetText) args.push('--arm-budget', budgetText);
  return runInChild<ScaleSetRunResult>(__filename, args, `run scale sets ${sets}×${instances}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vms: { type: 'string' },
      modes: { type: 'string' },
      speed: { type: 'string' },
      'time-scale': { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      'one-run': { type: 'string' },
      'arm-budget': { type: 'string' },
      'scale-sets': { type: 'string' },
      instances: { type: 'string' },
      check: { type: 'boolean' },
    },
    strict: true,
  });
  const budgetText = values['arm-budget'] ?? '';
  const budget = parseArmBudget(budgetText);
  const counts = (values.vms ?? '1,100,1000').split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 5000))
    throw new Error(`--vms must be comma-separated integers 1-5000, got '${values.vms}'`);
  const modes = (values.modes ?? 'single-pass,aad').split(',').map((s) => s.trim());
  for (const m of modes) if (m !== 'single-pass' && m !== 'aad') throw new Error(`--modes takes single-pass and/or aad, got '${m}'`);
  const speed = Number(values.speed ?? values['time-scale'] ?? 60);
  if (!(speed > 0) || !Number.isFinite(speed)) throw new Error('--speed must be a positive number');
  const timeoutMs = Number(values.timeout ?? 1800) * 1000;
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, '.state', 'bench-pipeline.json'));
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const scaleSets = values['scale-sets'] === undefined ? 0 : Number(values['scale-sets']);
  const instances = Number(values.instances ?? 2);
  if (!Number.isInteger(scaleSets) || scaleSets < 0 || scaleSets > 500)
    throw new Error(`--scale-sets must be an integer 0-500, got '${values['scale-sets']}'`);
  if (!Number.isInteger(instances) || instances < 1 || instances > 100)
    throw new Error(`--instances must be an integer 1-100, got '${values.instances}'`);
  if (values.instances !== undefined && scaleSets === 0) throw new Error('--instances goes with --scale-sets');

  if (values['one-run']?.startsWith('vmss:')) {
    const [, k, m] = values['one-run'].split(':');
    const result = await runScaleSets(Number(k), Number(m), speed, timeoutMs, log, budget);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  if (values['one-run']) {
    // Child mode: one run, the result as the last stdout line.
    const [mode, n] = values['one-run'].split(':') as ['single-pass' | 'aad', string];
    const result = await runOnce(mode, Number(n), speed, timeoutMs, log, budget);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const results: RunResult[] = [];
  const scaleSetResults: ScaleSetRunResult[] = [];
  const save = () => writeRawFigures(out, results, scaleSets > 0 ? { scaleSetResults } : {});
  // --scale-sets alone measures scale sets only; with --vms both.
  const vmCounts = scaleSets > 0 && values.vms === undefined ? [] : counts;
  for (const mode of modes as Array<'single-pass' | 'aad'>) {
    for (const n of vmCounts) {
      log(`Running ${mode} with ${n} VM(s), slow operations ×${speed} faster, real-time clock…`);
      results.push(await runCaseInChild(mode, n, speed, timeoutMs, budgetText));
      save();
    }
  }
  if (scaleSets > 0) {
    log(`Running ${scaleSets} Uniform scale set(s) × ${instances} instance(s), slow operations ×${speed} faster, real-time clock…`);
    scaleSetResults.push(await runScaleSetsInChild(scaleSets, instances, speed, timeoutMs, budgetText));
    save();
  }
  const tables = [
    ...(results.length > 0 ? [markdownTable(results), readStepsTable(results)] : []),
    ...(scaleSetResults.length > 0 ? [scaleSetTable(scaleSetResults)] : []),
  ];
  process.stdout.write(`${tables.join('\n\n')}\n\nRaw figures: ${out}\n`);
  if (values.check) {
    const problems = [...checkResults(results), ...checkScaleSetResults(scaleSetResults)];
    if (problems.length > 0) throw new Error(`--check: ${problems.join('; ')}`);
  }
}

/** What `--check` refuses: a run where some VM did not end encrypted (a re-run finding it already encrypted counts). */
export function checkResults(results: readonly RunResult[]): string[] {
  return results.flatMap((r) => {
    const done = r.encrypted + (r.otherOutcomes['already-encrypted'] ?? 0);
    const others = Object.entries(r.otherOutcomes).filter(([outcome]) => outcome !== 'already-encrypted');
    return done === r.vms && r.failed === 0 && r.unfinished === 0 && others.length === 0
      ? []
      : [
          `${r.mode} N=${r.vms}: ${r.encrypted} encrypted, ${r.failed} failed, ${r.unfinished} unfinished, ` +
            `other ${JSON.stringify(r.otherOutcomes)}`,
        ];
  });
}

/** What `--check` refuses for scale sets: a set that did not end encrypted. */
export function checkScaleSetResults(results: readonly ScaleSetRunResult[]): string[] {
  return results.flatMap((r) =>
    r.encrypted + (r.otherOutcomes['already-encrypted'] ?? 0) === r.scaleSets && r.failed === 0 && r.unfinished === 0
      ? []
      : [`scale sets ${r.scaleSets}×${r.instancesPerSet}: ${r.encrypted} encrypted, ${r.failed} failed, ${r.unfinished} unfinished`],
  );
}

if (require.main === module) runMain('bench:pipeline', main);
