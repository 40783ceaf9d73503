/**
 * Chaos benchmark: `npm run chaos -- [--vms 200] [--modes aad,single-pass] [--fault-rate 0.1] [--copies 3] [--kills 5]
 * [--speed 60] [--timeout 3600] [--seed N] [--out FILE] [--check]`.
 *
 * For each mode a fresh `npm start` stack (simulator in this process, host child on the built app) gets its share of
 * the VMs (half Windows, half Linux) created in one burst, while: every Event Grid event is delivered `--copies` times;
 * `--fault-rate` of the app's Resource Manager, Key Vault and Microsoft Graph calls are answered with 500, 503, 429 with
 * Retry-After, a reset connection or a connection that hangs and closes (the simulator's fault injection); and the host
 * is SIGKILLed `--kills` times while runs are active (each kill at a seeded milestone of the first pass's progress, read
 * from the Durable status API: `planKills`, `killDue`) and restarted on the same durable store. When every run is terminal,
 * the app's own repair path runs — the backfill sweep (daily by default; started at once here) — until a sweep changes
 * nothing (at most 3 rounds), then the credential janitor. Faults stay on throughout; they are removed only to read
 * the result.
 *
 * It reports, from the simulator's state: VMs encrypted (or skipped with a reason), VMs with more than one ADE extension
 * deployment (the app's successful extension PUTs, from the request log), live `ade-autopilot` passwords left, stuck runs,
 * secrets (issued passwords, BEK/passphrase values, client secrets) found in the host's log and durable store, and the
 * makespan. Figures, not pass/fail; not part of `npm test`. `--check` (the CI smoke, `npm run bench:smoke`) exits 1
 * naming each goal a mode missed (`checkChaos`), a kill that hit no active run among them. `--seed` fixes the kill
 * milestones and the sequence of the simulator's fault draws (which request meets which draw, and so the moment a
 * milestone is reached, still depends on timing); without it a random seed is drawn and reported.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { toVmSnapshot } from '../azure/compute-mapping';
import { readVmEncryption } from '../core/encryption-state';
import { orchestrationInstanceId } from '../core/names';
import { Session, TERMINAL, type InstanceStatus } from '../local/demo/session';
import { ENCRYPT_VM_ORCHESTRATOR } from '../orchestrations/contracts';
import { pool, REPO_ROOT, runInChild, runMain, startBenchStack, vmSpecs, writeRawFigures } from './stack-run';

interface LogEntry {
  seq: number;
  time: string;
  path: string;
  status: number;
  principal: string;
}

export interface ChaosResult {
  mode: 'aad' | 'single-pass';
  vms: number;
  speed: number;
  faultRate: number;
  copies: number;
  kills: number;
  faultsInjected: number;
  encrypted: number;
  skipped: Record<string, number>;
  notEncrypted: string[];
  multipleExtensionDeployments: number;
  maxExtensionDeploymentsPerVm: number;
  livePasswordsBeforeJanitor: number;
  livePasswordsLeft: number;
  stuckRuns: number;
  failedRunsBeforeRepair: number;
  sweepRounds: number;
  secretsFound: number;
  makespanS: number;
  /** The seed of the kill milestones and the simulator's fault draws (`--seed`). */
  seed: number;
  /** Every planned kill: when it fired and how many runs it hit (`planKills`, `killDue`). */
  killLog: KillRecord[];
}

/** Where the first pass stands: `encryptVm` runs listed by the Durable status API, and how many are terminal. */
export interface RunProgress {
  vms: number;
  listed: number;
  terminal: number;
}

/** One planned SIGKILL: its milestone, and when it fired (`atS` null: the first pass ended before it was due). */
export interface KillRecord {
  n: number;
  milestone: number;
  /** Seconds after the first VM PUT; null when it never fired. */
  atS: number | null;
  /** Seconds after the first VM PUT when the status read the kill was decided on began (null: never fired). */
  readS: number | null;
  /** `encryptVm` runs not terminal (Pending or Running) at the status read the kill was decided on. */
  activeRuns: number;
  listedRuns: number;
  terminalRuns: number;
}

/** Milestones are drawn in [KILL_FROM, KILL_TO) of the first pass's progress (`progressOf`). */
export const KILL_FROM = 0.05;
export const KILL_TO = 0.8;

/**
 * The kill plan: one progress milestone per kill, kill i uniform in the i-th of `kills` equal slices of
 * [KILL_FROM, KILL_TO) from the seeded generator, so the kills spread over the active phase (runs being started, then
 * finishing) without clustering, and the same seed gives the same plan. KILL_TO stays below 1: the last runs finish in
 * bursts, faster than a host restart (a milestone near 1 would often be passed with no run left to hit).
 */
export function planKills(random: () => number, kills: number): number[] {
  const slice = (KILL_TO - KILL_FROM) / Math.max(1, kills);
  return Array.from({ length: kills }, (_, i) => KILL_FROM + (i + random()) * slice);
}

/**
 * The first pass's progress in [0, 1]: half for runs started (listed), half for runs finished (terminal). It is 0.5
 * when every VM has its run and none has finished, 1 when every run is terminal.
 */
export function progressOf(p: RunProgress): number {
  if (p.vms <= 0) return 1;
  return Math.min(1, (Math.min(p.listed, p.vms) + Math.min(p.terminal, p.vms)) / (2 * p.vms));
}

/** A kill is due once the progress reached its milestone while at least `minActive` runs are Pending or Running. */
export function killDue(milestone: number, p: RunProgress, minActive = 1): boolean {
  return progressOf(p) >= milestone && p.listed - p.terminal >= minActive;
}

/** A small seeded generator (mulberry32): uniform in [0, 1), the same sequence for the same 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * What `--check` refuses, one line per goal a mode missed: a VM not encrypted (skipped counts as missed: every chaos VM
 * is eligible), a VM with more than one extension deployment, a live password after the janitor, a run not terminal, a
 * secret in durable history, and a run that injected no fault although faults were asked for (it would prove nothing).
 */
export function checkChaos(results: readonly ChaosResult[]): string[] {
  return results.flatMap((r) => {
    const at = `${r.mode} (${r.vms} VMs, seed ${r.seed})`;
    const problems: string[] = [];
    if (r.encrypted < r.vms) {
      const skipped = Object.values(r.skipped).reduce((sum, n) => sum + n, 0);
      const detail = [
        r.notEncrypted.length > 0
          ? `not encrypted: ${r.notEncrypted.slice(0, 5).join(' | ')}${r.notEncrypted.length > 5 ? ' | …' : ''}`
          : '',
        skipped > 0 ? `skipped ${JSON.stringify(r.skipped)}` : '',
      ].filter(Boolean);
      problems.push(`${at}: encrypted ${r.encrypted}/${r.vms} (goal 100 %)${detail.length ? `; ${detail.join('; ')}` : ''}`);
    }
    if (r.multipleExtensionDeployments > 0)
      problems.push(
        `${at}: ${r.multipleExtensionDeployments} VMs with more than one extension deployment ` +
          `(up to ${r.maxExtensionDeploymentsPerVm}; goal 0)`,
      );
    if (r.livePasswordsLeft > 0) problems.push(`${at}: ${r.livePasswordsLeft} live passwords left after the janitor (goal 0)`);
    if (r.stuckRuns > 0) problems.push(`${at}: ${r.stuckRuns} stuck runs (goal 0)`);
    if (r.secretsFound > 0) problems.push(`${at}: ${r.secretsFound} secrets found in the host's log, durable store or runs (goal 0)`);
    if (r.faultRate > 0 && r.faultsInjected === 0) problems.push(`${at}: no fault injected at a fault rate of ${r.faultRate}`);
    for (const k of r.killLog) {
      const due = `kill ${k.n}/${r.killLog.length} (milestone ${k.milestone.toFixed(2)})`;
      if (k.atS === null)
        problems.push(`${at}: ${due} never fired: the first pass ended first (${k.terminalRuns}/${k.listedRuns} runs terminal)`);
      else if (k.activeRuns < 1)
        problems.push(`${at}: ${due} at ${k.atS.toFixed(1)} s hit no active run (0 of ${k.listedRuns} non-terminal)`);
    }
    return problems;
  });
}

/** A run's output fields (the durable status API types it loosely). */
function outputOf(s: InstanceStatus | undefined): { outcome?: string; reason?: string } {
  return typeof s?.output === 'object' && s.output ? s.output : {};
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function retrying<T>(what: () => Promise<T>, attempts = 40): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(Math.min(5000, 250 * attempt));
    }
  }
}

/** Every file under a folder, as text (binary files read as latin1 so any ASCII secret inside is still found). */
function textsUnder(dir: string): Array<{ where: string; text: string }> {
  const out: Array<{ where: string; text: string }> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 512 * 1024 * 1024) out.push({ where: p, text: readFileSync(p).toString('latin1') });
    }
  };
  walk(dir);
  return out;
}

export async function runChaos(
  mode: 'aad' | 'single-pass',
  vms: number,
  options: { speed: number; faultRate: number; copies: number; kills: number; timeoutMs: number; seed: number },
  log: (line: string) => void,
): Promise<ChaosResult> {
  // Two streams from the seed: the kill moments here, the fault draws in the simulator.
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(Math.floor(random() * 4294967296));
  const { stateRoot, stack } = await startBenchStack({
    label: `ade-chaos-${mode}-${vms}`,
    speed: options.speed,
    env: { ADE_ENCRYPTION_MODE: mode, ADE_TAG_OUTCOME: 'false', ADE_LOCAL_POLL_SECONDS: '10', ADE_SWEEP_SCHEDULE: 'off' },
    hostLogLevel: 'information',
    faultRandom,
  });
  // Every password the directory issues, recorded in-process (Graph keeps only a hash).
  const issued: string[] = [];
  const directory = stack.sim.ctx.directory as unknown as { addPassword: (...args: unknown[]) => { secretText: string } };
  const original = directory.addPassword.bind(directory);
  directory.addPassword = (...args: unknown[]) => {
    const result = original(...args);
    issued.push(result.secretText);
    return result;
  };
  try {
    const session = await Session.connect(stateRoot);
    const app = session.state.automationObjectId;
    const call = <T>(method: string, p: string, body?: unknown) => session.control<T>(method, p, body);
    await call('PUT', '/_sim/arm/eventgrid/copies', { copies: options.copies });
    const r = options.faultRate;
    const kinds = [
      { status: 500, share: 0.3 },
      { status: 503, share: 0.15 },
      { status: 429, retryAfterSeconds: 2, share: 0.3 },
      { status: 500, connection: 'reset', share: 0.15 },
      { status: 500, connection: 'timeout', hangMs: 5000, share: 0.1 },
    ];
    if (r > 0)
      for (const service of ['arm', 'keyvault', 'graph'])
        for (const { share, ...kind } of kinds)
          await call('POST', '/_sim/faults', { service, principal: app, ...kind, errorRate: r * share });

    // Extension PUTs by the app, per VM, read incrementally (the request log keeps the last 50,000).
    const extensionPuts = new Map<string, number>();
    let since = 0;
    const pollExtensions = async () => {
      const q = new URLSearchParams({
        operation: 'Microsoft.Compute/virtualMachines/extensions/write',
        principal: app,
        since: String(since),
        limit: '50000',
      });
      const res = await call<{ lastSeq: number; value: Array<LogEntry & { method: string }> }>('GET', `/_sim/requests?${q.toString()}`);
      for (const e of res.value) {
        if (e.method !== 'PUT' || e.status >= 300) continue;
        const vm = /\/virtualMachines\/([^/]+)\/extensions\//i.exec(e.path)?.[1]?.toLowerCase();
        if (vm) extensionPuts.set(vm, (extensionPuts.get(vm) ?? 0) + 1);
      }
      since = Math.max(since, res.lastSeq);
    };

    const specs = vmSpecs('chaos', vms);
    const started = Date.now();
    // Kills follow the work, not the clock: kill i fires at the first status read where the first pass's progress has
    // reached its seeded milestone and a run is still Pending or Running; the next waits for the restart.
    const milestones = planKills(random, options.kills);
    const killLog: KillRecord[] = milestones.map((milestone, i) => ({
      n: i + 1,
      milestone,
      atS: null,
      readS: null,
      activeRuns: 0,
      listedRuns: 0,
      terminalRuns: 0,
    }));
    let killed = 0;
    let firstPassDone = false;
    const killer = (async () => {
      while (killed < milestones.length && !firstPassDone && Date.now() < started + options.timeoutMs) {
        let encrypts: InstanceStatus[];
        const readAt = Date.now();
        const readLabel = `  ${mode}: kill scheduler: status read at ${((readAt - started) / 1000).toFixed(1)} s`;
        try {
          encrypts = (await session.instances()).filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR);
        } catch (error) {
          log(`${readLabel} failed: ${String(error).slice(0, 120)}`);
          await sleep(1000);
          continue;
        }
        if (Date.now() - readAt > 3000) log(`${readLabel} took ${((Date.now() - readAt) / 1000).toFixed(1)} s`);
        const progress = { vms, listed: encrypts.length, terminal: encrypts.filter((s) => TERMINAL.has(s.runtimeStatus)).length };
        const record = killLog[killed]!;
        record.listedRuns = progress.listed;
        record.terminalRuns = progress.terminal;
        if (!firstPassDone && killDue(record.milestone, progress)) {
          record.atS = (Date.now() - started) / 1000;
          record.readS = (readAt - started) / 1000;
          record.activeRuns = progress.listed - progress.terminal;
          killed++;
          log(
            `  ${mode}: SIGKILL ${record.n}/${options.kills} at ${record.atS.toFixed(1)} s ` +
              `(milestone ${record.milestone.toFixed(2)}, progress ${progressOf(progress).toFixed(2)}, ` +
              `${record.activeRuns} of ${progress.listed} runs active)`,
          );
          await stack.killAndRestartHost();
        } else await sleep(1000);
      }
    })();

    // The user's own calls meet no faults (the rules name the app's principal); retried all the same.
    await pool(specs, 32, async (spec) => {
      await retrying(() => session.createVm(spec));
    });
    log(`  ${mode}: ${vms} VM PUTs accepted in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const deadline = started + options.timeoutMs;
    const waitTerminal = async (label: string, expectAtLeast: number): Promise<InstanceStatus[]> => {
      let last = 0;
      for (;;) {
        let runs: InstanceStatus[] = [];
        try {
          await pollExtensions();
          runs = await session.instances();
        } catch {
          await sleep(2000);
          continue;
        }
        const encrypts = runs.filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR);
        const active = runs.filter((s) => !TERMINAL.has(s.runtimeStatus));
        if (encrypts.length >= expectAtLeast && active.length === 0) return runs;
        if (Date.now() > deadline) {
          log(`  ${mode}: ${label}: timed out with ${active.length} runs active`);
          return runs;
        }
        if (Date.now() - last > 15_000) {
          last = Date.now();
          log(
            `  ${mode}: ${label}: ${encrypts.length} encryptVm runs, ${active.length} active, ` +
              `${((Date.now() - started) / 1000).toFixed(0)} s`,
          );
        }
        await sleep(2000);
      }
    };
    let runs = await waitTerminal('first pass', vms);
    firstPassDone = true;
    await killer;
    // A kill can land just as the last runs finish: wait again after it (the restarted host replays nothing new then).
    if (killed > 0) runs = await waitTerminal('first pass after the last kill', vms);
    for (const k of killLog.filter((k) => k.atS === null)) log(`  ${mode}: kill ${k.n} never fired (milestone ${k.milestone.toFixed(2)})`);
    const failedOf = (list: InstanceStatus[]) =>
      list.filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR && (s.runtimeStatus !== 'Completed' || outputOf(s).outcome === 'failed'));
    const failedRunsBeforeRepair = failedOf(runs).length;
    for (const reason of new Set(failedOf(runs).map((s) => String(outputOf(s).reason ?? s.runtimeStatus).slice(0, 160))))
      log(`  ${mode}: failed before repair: ${reason}`);

    // The app's repair path: backfill sweeps until one starts nothing new.
    let sweepRounds = 0;
    const keys = session.state.keys;
    for (; sweepRounds < 3;) {
      const before = runs.filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR && TERMINAL.has(s.runtimeStatus)).map((s) => s.lastUpdatedTime);
      const res = await retrying(() =>
        fetch(`${session.state.hostUrl}/api/sweep?kind=backfill&code=${encodeURIComponent(keys.function)}`, { method: 'POST' }).then(
          (x) => {
            if (x.status >= 500) throw new Error(`sweep answered ${x.status}`);
            return x;
          },
        ),
      );
      if (res.status !== 202) break;
      sweepRounds++;
      await sleep(2000);
      runs = await waitTerminal(`sweep ${sweepRounds}`, vms);
      const after = runs.filter((s) => s.name === ENCRYPT_VM_ORCHESTRATOR && TERMINAL.has(s.runtimeStatus)).map((s) => s.lastUpdatedTime);
      if (failedOf(runs).length === 0 && JSON.stringify(before.sort()) === JSON.stringify(after.sort())) break;
      if (failedOf(runs).length === 0) break;
    }
    const makespanS = (Date.now() - started) / 1000;

    // Read the result without faults.
    const rules = await call<{ value: Array<{ failed: number }> }>('GET', '/_sim/faults');
    const faultsInjected = rules.value.reduce((sum, rule) => sum + rule.failed, 0);
    await call('DELETE', '/_sim/faults');
    const livePasswords = async () => {
      const principals = await call<{
        value: Array<{ displayName: string; passwordCredentials?: Array<{ displayName?: string; endDateTime?: string }> }>;
      }>('GET', '/_sim/principals');
      return principals.value
        .filter((p) => p.displayName.startsWith('ade-autopilot-'))
        .flatMap((p) => p.passwordCredentials ?? [])
        .filter((c) => (c.displayName ?? '').startsWith('ade-autopilot') && Date.parse(c.endDateTime ?? '') > Date.now()).length;
    };
    const livePasswordsBeforeJanitor = await livePasswords();
    await retrying(async () => {
      const res = await fetch(`${session.state.hostUrl}/admin/functions/credentialJanitor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': keys.master },
        body: JSON.stringify({ input: '' }),
      });
      if (res.status !== 202) throw new Error(`janitor answered ${res.status}`);
    });
    let livePasswordsLeft = await livePasswords();
    for (let i = 0; i < 30 && livePasswordsLeft > 0; i++) {
      await sleep(1000);
      livePasswordsLeft = await livePasswords();
    }

    let encrypted = 0;
    const skipped: Record<string, number> = {};
    const notEncrypted: string[] = [];
    const outcomes = new Map(runs.map((s) => [s.instanceId, s]));
    await pool(specs, 16, async (spec) => {
      const vm = await retrying(() => session.compute.virtualMachines.get(spec.resourceGroup, spec.name, { expand: 'instanceView' }));
      const snapshot = toVmSnapshot(vm);
      const state = readVmEncryption(snapshot, 'All').state;
      const modelOk = mode !== 'aad' || snapshot.osDisk.encryptionSettings?.enabled === true;
      if (state.kind === 'encrypted' && modelOk) {
        encrypted++;
        return;
      }
      const run = outcomes.get(orchestrationInstanceId(String(vm.id)));
      if (outputOf(run).outcome === 'skipped') {
        const reason = String(outputOf(run).reason ?? 'no reason').slice(0, 80);
        skipped[reason] = (skipped[reason] ?? 0) + 1;
        return;
      }
      notEncrypted.push(
        `${spec.name}: ${state.kind}${modelOk ? '' : ' (no model encryptionSettings)'}; ` +
          `run ${run?.runtimeStatus ?? 'none'} ${String(outputOf(run).reason ?? '').slice(0, 120)}`,
      );
    });
    await pollExtensions();
    const counts = [...extensionPuts.values()];
    const final = await session.instances();
    const stuckRuns = final.filter((s) => !TERMINAL.has(s.runtimeStatus)).length;

    // Secrets: every password issued, every Key Vault secret value, the client secrets.
    const snapshot = await call<Record<string, unknown>>('POST', '/_sim/state/snapshot');
    const secrets = new Set<string>([...issued, session.state.user.clientSecret]);
    const walk = (node: unknown, under: boolean): void => {
      if (Array.isArray(node)) node.forEach((n) => walk(n, under));
      else if (node && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) {
          if (under && k === 'value' && typeof v === 'string') secrets.add(v);
          else walk(v, under || k === 'secrets');
        }
    };
    walk(snapshot.keyvault, false);
    const haystack = [...textsUnder(path.join(stateRoot, 'host')), { where: 'host.log', text: readFileSync(stack.hostLogFile, 'latin1') }];
    haystack.push({ where: 'runs', text: JSON.stringify(final) });
    let secretsFound = 0;
    for (const secret of secrets) if (secret.length >= 12 && haystack.some((h) => h.text.includes(secret))) secretsFound++;

    return {
      mode,
      vms,
      speed: options.speed,
      faultRate: r,
      copies: options.copies,
      kills: killed,
      faultsInjected,
      encrypted,
      skipped,
      notEncrypted,
      multipleExtensionDeployments: counts.filter((c) => c > 1).length,
      maxExtensionDeploymentsPerVm: Math.max(0, ...counts),
      livePasswordsBeforeJanitor,
      livePasswordsLeft,
      stuckRuns,
      failedRunsBeforeRepair,
      sweepRounds,
      secretsFound,
      makespanS,
      seed: options.seed,
      killLog,
    };
  } finally {
    await stack.stop();
    log(`  ${mode}: state kept in ${stateRoot}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vms: { type: 'string' },
      modes: { type: 'string' },
      speed: { type: 'string' },
      'fault-rate': { type: 'string' },
      copies: { type: 'string' },
      kills: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      check: { type: 'boolean' },
      'one-run': { type: 'string' },
    },
    strict: true,
  });
  const vms = Number(values.vms ?? 200);
  if (!Number.isInteger(vms) || vms < 1 || vms > 2000) throw new Error(`--vms must be an integer 2–2000, got '${values.vms}'`);
  const modes = (values.modes ?? 'aad,single-pass').split(',').map((s) => s.trim()) as Array<'aad' | 'single-pass'>;
  for (const m of modes) if (m !== 'single-pass' && m !== 'aad') throw new Error(`--modes takes single-pass and/or aad, got '${m}'`);
  const options = {
    speed: Number(values.speed ?? 60),
    faultRate: Number(values['fault-rate'] ?? 0.1),
    copies: Number(values.copies ?? 3),
    kills: Number(values.kills ?? 5),
    timeoutMs: Number(values.timeout ?? 3600) * 1000,
    seed: values.seed === undefined ? Math.floor(Math.random() * 4294967296) : Number(values.seed),
  };
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 4294967295)
    throw new Error(`--seed must be an integer 0–4294967295, got '${values.seed}'`);
  if (!(options.faultRate >= 0 && options.faultRate < 1)) throw new Error('--fault-rate must be in [0, 1)');
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, '.state', 'bench-chaos.json'));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (values['one-run']) {
    // Child mode: one mode's run, the result as the last stdout line.
    const result = await runChaos(values['one-run'] as 'aad' | 'single-pass', vms, options, log);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const results: ChaosResult[] = [];
  const share = Math.ceil(vms / modes.length);
  for (const mode of modes) {
    log(
      `Chaos: ${mode}, ${share} VMs, ${options.faultRate * 100}% faults, ${options.copies}× delivery, ` +
        `${options.kills} host kills, seed ${options.seed}…`,
    );
    // Each mode in its own process: a fresh simulator CA, proxy and SDK/MSAL connection pools (they are process-wide).
    const args = ['--vms', String(share), '--speed', String(options.speed), '--fault-rate', String(options.faultRate)];
    args.push('--copies', String(options.copies), '--kills', String(options.kills), '--timeout', String(options.timeoutMs / 1000));
    args.push('--seed', String(options.seed));
    results.push(await runInChild<ChaosResult>(__filename, ['--one-run', mode, ...args], `chaos run ${mode}`));
    writeRawFigures(out, results);
  }
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write(`Raw figures: ${out}\n`);
  if (values.check) {
    const problems = checkChaos(results);
    if (problems.length > 0) throw new Error(`--check: ${problems.length} goal(s) missed:\n  ${problems.join('\n  ')}`);
    log(`--check: every goal met (seed ${options.seed})`);
  }
}

if (require.main === module) runMain('chaos', main);
