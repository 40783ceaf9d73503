/**
 * `npm start` end to end: spawns the built launcher (simulator + host child), creates one VM through
 * @azure/arm-compute over the simulator's proxy as the demo user, sees the run finish encrypted in the
 * host's Durable status, then Ctrl-C (SIGINT): exit 0, start.json gone, host process gone, both ports
 * closed. And `--azure` without settings: a clear error, exit ≠ 0, no secret in the output.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { Session } from '../../local/demo/session';
import type { StartState } from '../../local/start/state-file';
import { alive, cleanEnv, CLI, READY_PREFIX, REPO_ROOT } from './launch';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start (simulator + local host)', () => {
  const stateRoot = mkdtempSync(path.join(tmpdir(), 'ade-start-'));
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    child = spawn(
      process.execPath,
      [CLI, '--port', '0', '--speed', '120', '--state', stateRoot, '--local-settings', path.join(stateRoot, 'absent.json')],
      {
        cwd: REPO_ROOT,
        env: cleanEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    exited = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const deadline = Date.now() + 90_000;
    while (!stdout.includes(READY_PREFIX)) {
      if (child.exitCode !== null) throw new Error(`launcher exited ${child.exitCode} before ready:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`launcher not ready in 90 s:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    const state = path.join(stateRoot, 'start.json');
    if (existsSync(state)) {
      const { hostPid } = JSON.parse(readFileSync(state, 'utf8')) as StartState;
      if (alive(hostPid)) process.kill(hostPid, 'SIGKILL');
    }
    rmSync(stateRoot, { recursive: true, force: true });
  }, 30_000);

  it('prints the URLs, keys, how to create a VM, and npm run demo', () => {
    const state = JSON.parse(readFileSync(path.join(stateRoot, 'start.json'), 'utf8')) as StartState;
    expect(stdout).toContain(state.hostUrl);
    expect(stdout).toContain(state.simUrl);
    expect(stdout).toContain(state.keys.function);
    expect(stdout).toContain(`${state.simUrl}/_sim/arm/vms`);
    expect(stdout).toContain('ComputeManagementClient');
    expect(stdout).toContain('npm run demo');
    expect(stdout).toMatch(/vm-written → vmWritten/);
    // The demo principal's secret stays in its 0600 file; the terminal only names the file.
    expect(stdout).not.toContain(state.user.clientSecret);
  });

  it('encrypts a VM created through Resource Manager, then stops cleanly on SIGINT', async () => {
    const session = await Session.connect(stateRoot);
    const { state } = session;
    const vmId = await session.createVm({ name: 'start-test-vm', os: 'Windows', location: 'westeurope', resourceGroup: 'rg-ade-demo' });
    const instanceId = orchestrationInstanceId(vmId);
    const deadline = Date.now() + 90_000;
    let status = await session.instance(instanceId);
    while (!status || !['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) {
      if (Date.now() > deadline)
        throw new Error(
          `run ${instanceId} not finished in 90 s: ${JSON.stringify(status?.customStatus ?? status?.runtimeStatus ?? 'not started')}`,
        );
      await new Promise((r) => setTimeout(r, 250));
      status = await session.instance(instanceId);
    }
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ outcome: 'encrypted' });

    const hostPort = Number(new URL(state.hostUrl).port);
    const simPort = Number(new URL(state.simUrl).port);
    expect(await portOpen(hostPort)).toBe(true);
    expect(alive(state.hostPid)).toBe(true);

    child!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('Stopped.');
    expect(existsSync(path.join(stateRoot, 'start.json'))).toBe(false);
    expect(alive(state.hostPid)).toBe(false);
    expect(await portOpen(hostPort)).toBe(false);
    expect(await portOpen(simPort)).toBe(false);
    // State survives for the next start (same tenant, subscription, CA).
    expect(existsSync(path.join(stateRoot, 'sim', 'state.json'))).toBe(true);
  }, 150_000);
});

describe('npm start -- --azure with missing settings', () => {
  const cases: Array<{ name: string; env: Record<string, string>; mentions: string[]; secret?: string }> = [
    { name: 'nothing configured', env: {}, mentions: ['ADE_SUBSCRIPTIONS', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'] },
    {
      name: 'a secret but no tenant',
      env: {
        ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555',
        AZURE_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
        AZURE_CLIENT_SECRET: 'do-not-print-this-secret-value',
      },
      mentions: ['AZURE_TENANT_ID'],
      secret: 'do-not-print-this-secret-value',
    },
    {
      name: 'managed identity outside Azure',
      env: { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555', ADE_AUTH_MODE: 'managed-identity' },
      mentions: ['IDENTITY_ENDPOINT'],
    },
  ];
  it.each(cases)('$name → clear error naming the settings, exit ≠ 0', ({ env, mentions, secret }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ade-start-azure-'));
    try {
      const result = spawnSync(
        process.execPath,
        [CLI, '--azure', '--port', '0', '--state', dir, '--local-settings', path.join(dir, 'absent.json')],
        {
          cwd: REPO_ROOT,
          env: cleanEnv(env),
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      expect(result.status).not.toBe(0);
      expect(result.status).not.toBeNull();
      expect(result.stderr).toContain('--azure cannot start');
      for (const name of mentions) expect(result.stderr).toContain(name);
      if (secret) expect(`${result.stdout}${result.stderr}`).not.toContain(secret);
      expect(result.stdout).not.toContain(READY_PREFIX);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
