// The CLI as users run it (spawned from dist/): ready line, function table, keys, ESM apps, start failures,
// appTerminate on SIGINT, and a Durable orchestration started through the DurableClient binding.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Spawns dist/local/host/cli.js, built by the test run's global setup (test/global-setup.ts).
const repoRoot = path.resolve(__dirname, '../../..');
const cliPath = path.join(repoRoot, 'dist/local/host/cli.js');
const apps = path.join(repoRoot, 'test/apps');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'host-cli-'));
const children = new Set<ChildProcess>();

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function runCli(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, VITEST: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function ready(run: Running, ms = 20_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const match = /Host listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(run.stdout());
    if (match) {
      await new Promise((r) => setTimeout(r, 50));
      return match[1];
    }
    if (Date.now() > until || run.child.exitCode !== null) throw new Error(`host not ready: ${run.stdout()} ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('CLI', () => {
  it('hosts an ESM app: one ready line, a function table, routePrefix, and appTerminate on SIGINT', async () => {
    const marker = path.join(tmp, 'terminated');
    const run = runCli(['--app', path.join(apps, 'runtime-esm'), '--port', '0', '--state', path.join(tmp, 'esm')], {
      TERMINATE_MARKER: marker,
      FUNCTIONS_HOST_MASTER_KEY: 'configured-master-key',
    });
    const baseUrl = await ready(run);
    expect(run.stdout().match(/Host listening on/g)).toHaveLength(1);
    expect(run.stderr()).not.toContain('Host listening on');
    expect(run.stdout()).toMatch(/helloEsm\s+httpTrigger\s+\[GET,POST\] http:\/\/127\.0\.0\.1:\d+\/v1\/hello\/\{name\} \(anonymous\)/);
    expect(run.stdout()).toMatch(/esmTick\s+timerTrigger\s+schedule 0 0 0 \* \* \*/);
    expect(run.stdout()).toContain('master:    configured-master-key');
    const res = await fetch(`${baseUrl}/v1/hello/Ada`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello Ada from ESM');
    expect((await fetch(`${baseUrl}/admin/functions`, { headers: { 'x-functions-key': 'configured-master-key' } })).status).toBe(200);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(fs.readFileSync(marker, 'utf8')).toBe('terminated');
  });

  it.each([
    ['runtime-unsupported', /Host failed to start: Function 'fromQueue': trigger type 'queueTrigger' is not supported by the local host/],
    ['runtime-broken', /Host failed to start: Worker was unable to load entry point "index.js": entry point exploded on purpose/],
    ['does-not-exist', /Cannot read package.json/],
    ['runtime-stream', /Host failed to start: The app enables HTTP streaming/],
    [
      'runtime-timers',
      /Host failed to start: Timer function 'everySecond': App setting 'EVERY_SECOND' referenced by '%EVERY_SECOND%' is not set/,
    ],
  ])('fails at start with a clear message for %s', async (app, message) => {
    const run = runCli(['--app', path.join(apps, app), '--port', '0', '--state', path.join(tmp, app)]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(message);
    expect(run.stdout()).not.toContain('Host listening');
  });

  it.each([
    [['--port', 'abc', '--app', '.'], /--port must be an integer/],
    // The host's clock is real time: there is no option that bends it.
    [['--clock-scale', '60', '--app', '.'], /Unknown option '--clock-scale'/],
    [[], /--app is required/],
    [['--platform', 'consumption', '--app', '.'], /--platform must be one of flex-consumption, elastic-premium, got 'consumption'/],
    [
      ['--platform-site', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a', '--app', '.'],
      /--platform-site needs --platform/,
    ],
    [['--platform', 'flex-consumption', '--platform-site', 'func-ade', '--app', '.'], /--platform-site must be \/subscriptions/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('rejects bad arguments %j', async (args, message) => {
    const run = runCli(args);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(message);
  });

  it('runs a Durable orchestration started through the DurableClient binding (--no-keys)', async () => {
    const run = runCli(['--app', path.join(apps, 'runtime-durable'), '--port', '0', '--state', path.join(tmp, 'durable'), '--no-keys']);
    const baseUrl = await ready(run);
    expect(run.stdout()).toContain('Keys: disabled');
    const res = await fetch(`${baseUrl}/api/orchestrators/sayHellos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ first: 'Lima' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(['Hello Lima!', 'Hello Seattle!']);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
