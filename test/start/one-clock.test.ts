/**
 * One clock across the `npm start` stack. The stack runs with slow Azure operations ×600 faster; under the
 * old scaled simulator clock a credential end date stamped in real time (secret-event wait 90 min + 15 min
 * margin) was judged expired 105 min / 600 ≈ 10.5 s after the start, so every aad run failed with
 * AADSTS7000222. Here VMs are created only after that window, in both modes, Windows and Linux, by a user's
 * shell that sourced sim.env; then the stack is stopped, started again on the kept state, and a new VM is
 * encrypted too.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { parseEnvFile, Session, TERMINAL, type InstanceStatus } from '../../local/demo/session';
import { alive, cleanEnv, launch, REPO_ROOT, type Launcher } from './launch';

const SPEED = 600;
/** The old bug's window: the short-lived credential's lifetime (90 + 15 min) in scaled time. */
const OLD_FAILURE_WINDOW_MS = ((90 + 15) * 60_000) / SPEED;

/** What a user types after `source .state/sim/sim.env`: creates a VM with @azure/arm-compute from the environment. */
function createVmFromUserShell(simEnvFile: string, name: string, os: 'Windows' | 'Linux'): Promise<string> {
  const image =
    os === 'Windows'
      ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
      : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' };
  const body = {
    location: 'westeurope',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      imageReference: image,
      osDisk: { createOption: 'FromImage', osType: os },
      dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
    },
    osProfile:
      os === 'Windows'
        ? { computerName: name.slice(0, 15), adminUsername: 'azureuser', adminPassword: 'P@ssw0rd-not-real-1' }
        : { computerName: name, adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
  };
  const script = [
    'const { EnvironmentCredential } = require("@azure/identity");',
    'const { ComputeManagementClient } = require("@azure/arm-compute");',
    'new ComputeManagementClient(new EnvironmentCredential(), process.env.AZURE_SUBSCRIPTION_ID).virtualMachines',
    `  .beginCreateOrUpdateAndWait("rg-ade-demo", ${JSON.stringify(name)}, ${JSON.stringify(body)}, { updateIntervalInMs: 500 })`,
    '  .then((vm) => console.log(vm.id), (e) => { console.error(e.message); process.exit(1); });',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -e; source "$1"; exec node -e "$2"`, 'bash', simEnvFile, script], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`creating ${name} from the user's shell failed (${code}): ${err}`)),
    );
  });
}

async function finished(session: Session, vmId: string, timeoutMs = 90_000): Promise<InstanceStatus> {
  const instanceId = orchestrationInstanceId(vmId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await session.instance(instanceId);
    if (status && TERMINAL.has(status.runtimeStatus)) return status;
    if (Date.now() > deadline)
      throw new Error(
        `run of ${vmId} not finished in ${timeoutMs} ms: ${JSON.stringify(status?.customStatus ?? status?.runtimeStatus ?? 'not started')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.each(['aad', 'single-pass'] as const)('npm start --speed 600, %s mode, on one real clock', (mode) => {
  const stateRoot = mkdtempSync(path.join(tmpdir(), `ade-one-clock-${mode}-`));
  const simEnvFile = path.join(stateRoot, 'sim', 'sim.env');
  const args = ['--port', '0', '--speed', String(SPEED), '--state', stateRoot, '--local-settings', path.join(stateRoot, 'absent.json')];
  let launcher: Launcher | undefined;

  afterAll(async () => {
    if (launcher && launcher.child.exitCode === null) {
      launcher.child.kill('SIGKILL');
      await launcher.exited;
    }
    rmSync(stateRoot, { recursive: true, force: true });
  }, 30_000);

  it("sim.env is the demo user's shell, not the automation's", async () => {
    const startedAt = Date.now();
    launcher = await launch(args, { ADE_ENCRYPTION_MODE: mode });
    const session = await Session.connect(stateRoot);
    const simEnv = parseEnvFile(readFileSync(simEnvFile, 'utf8'));
    expect(simEnv).toMatchObject({
      AZURE_TENANT_ID: session.state.tenantId,
      AZURE_SUBSCRIPTION_ID: session.state.subscriptionId,
      AZURE_CLIENT_ID: session.state.user.clientId,
      AZURE_CLIENT_SECRET: session.state.user.clientSecret,
    });
    // The function app's managed identity endpoint is the app's, not a user's.
    expect(simEnv.IDENTITY_ENDPOINT).toBeUndefined();
    expect(simEnv.IDENTITY_HEADER).toBeUndefined();
    // Not the automation's principal (the app ignores its own writes as self-induced).
    const principals = await session.control<{ value: Array<{ objectId: string; appId: string }> }>('GET', '/_sim/principals');
    const automation = principals.value.find((p) => p.objectId === session.state.automationObjectId);
    expect(automation).toBeDefined();
    expect(simEnv.AZURE_CLIENT_ID).not.toBe(automation!.appId);
    // Wait out the old bug's window (measured from the start of the stack) before any VM exists.
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + OLD_FAILURE_WINDOW_MS + 3_000 - Date.now())));
  }, 150_000);

  it('encrypts a Windows and a Linux VM a user creates after the old failure window', async () => {
    const session = await Session.connect(stateRoot);
    const sinceSeq = (await session.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
    const vmIds = await Promise.all([
      createVmFromUserShell(simEnvFile, `oc-${mode}-win`, 'Windows'),
      createVmFromUserShell(simEnvFile, `oc-${mode}-lnx`, 'Linux'),
    ]);
    // The writes are the user's (so the app acts on them), seen by the simulator under the user's object id.
    const puts = await session.control<{ value: Array<{ principal: string; status: number; path: string }> }>(
      'GET',
      `/_sim/requests?operation=${encodeURIComponent('Microsoft.Compute/virtualMachines/write')}&since=${sinceSeq}&limit=1000`,
    );
    const userPuts = puts.value.filter((e) => e.status < 300 && !/\/extensions\//i.test(e.path));
    expect(userPuts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(userPuts.filter((e) => e.principal === session.state.user.objectId).map((e) => e.path.split('?')[0])).size).toBe(2);
    for (const status of await Promise.all(vmIds.map((id) => finished(session, id)))) {
      expect(status.runtimeStatus).toBe('Completed');
      expect(status.output, JSON.stringify(status.output)).toMatchObject({ outcome: 'encrypted' });
    }
  }, 150_000);

  it('stops, starts again on the kept state, and encrypts a new VM', async () => {
    const hostPid = (await Session.connect(stateRoot)).state.hostPid;
    expect(await launcher!.stop()).toBe(0);
    expect(alive(hostPid)).toBe(false);
    launcher = await launch(args, { ADE_ENCRYPTION_MODE: mode });
    const session = await Session.connect(stateRoot);
    const vmId = await createVmFromUserShell(simEnvFile, `oc-${mode}-again`, mode === 'aad' ? 'Windows' : 'Linux');
    const status = await finished(session, vmId);
    expect(status.output, JSON.stringify(status.output)).toMatchObject({ outcome: 'encrypted' });
    expect(await launcher.stop()).toBe(0);
  }, 150_000);
});
