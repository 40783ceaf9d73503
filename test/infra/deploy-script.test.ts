/**
 * infra/deploy.sh: shellcheck-clean; --dry-run prints the whole plan in order and runs nothing; a real run
 * against a stateful fake `az` deploys code before event subscriptions, grants Graph only in aad mode, and a
 * second run changes nothing that is already right.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHELLCHECK, thirdParty } from '../third-party';
import { INFRA_DIR } from './arm';

const SCRIPT = path.join(INFRA_DIR, 'deploy.sh');
const AAD_PARAMETERS = path.join(INFRA_DIR, 'main.parameters.json');
const SINGLE_PASS_PARAMETERS = path.join(INFRA_DIR, 'single-pass.parameters.json');

/** A parameters file: single-pass.parameters.json with these values added or replaced. */
function parametersWith(dir: string, values: Record<string, unknown>): string {
  const base = JSON.parse(readFileSync(SINGLE_PASS_PARAMETERS, 'utf8')) as { parameters: Record<string, { value: unknown }> };
  for (const [name, value] of Object.entries(values)) base.parameters[name] = { value };
  const file = path.join(dir, 'durable.parameters.json');
  writeFileSync(file, JSON.stringify(base));
  return file;
}

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'ade-infra-test-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = path.join(workDir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function runScript(args: string[], env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

/** A bin directory whose az/npm/zip only record that they were called and fail. */
function tripwireBin(): { bin: string; log: string } {
  const bin = freshDir('tripwire-bin');
  const log = path.join(bin, 'called.log');
  for (const tool of ['az', 'npm', 'zip', 'func']) {
    const file = path.join(bin, tool);
    writeFileSync(file, `#!/usr/bin/env bash\necho "${tool} $*" >> '${log}'\nexit 97\n`);
    chmodSync(file, 0o755);
  }
  return { bin, log };
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The plan: the "+ command" lines a dry run prints. */
function planOf(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('+ '));
}

const STEPS = {
  build: /^\+ npm --prefix \S+ run build$/,
  package: /^\+ node \S+\/infra\/package\.cjs \S+\/app --durable-backend AzureStorage$/,
  preflight:
    /^\+ az rest --method GET --uri 'https:\/\/management\.azure\.com\/subscriptions\/[^/]+\/providers\/Microsoft\.Authorization\/permissions/,
  topics: /^\+ az eventgrid system-topic list /,
  settingsCheck:
    /^\+ node \S+\/infra\/check-settings\.cjs \S+\/infra\/main\.json \S+\.parameters\.json \S+\/dist\/core\/config\.js '<subscription-id>'$/,
  validate: /^\+ az deployment sub validate .*--template-file \S+\/infra\/main\.json /,
  infrastructure: /^\+ az deployment sub create --name ade-autopilot .*--template-file \S+\/infra\/main\.json /,
  graphGrant: /^\+ az rest --method POST --uri 'https:\/\/graph\.microsoft\.com\/v1\.0\/servicePrincipals\/[^']+\/appRoleAssignments'/,
  codeDeploy: /^\+ az functionapp deployment source config-zip /,
  waitForFunctions: /^\+ az functionapp function list /,
  eventSubscriptions: /^\+ az deployment sub create --name ade-autopilot-events .*--template-file \S+\/infra\/event-subscriptions\.json /,
} as const;

function stepIndex(plan: string[], step: keyof typeof STEPS): number {
  const matches = plan.flatMap((line, i) => (STEPS[step].test(line) ? [i] : []));
  expect(matches, `${step} should appear exactly once in:\n${plan.join('\n')}`).toHaveLength(1);
  return matches[0]!;
}

describe.runIf(thirdParty(SHELLCHECK, 'shellcheck on infra/deploy.sh'))('shellcheck', () => {
  it('infra/deploy.sh has no findings at any severity', () => {
    const result = spawnSync('shellcheck', ['--shell=bash', '--severity=style', '--external-sources', SCRIPT], { encoding: 'utf8' });
    if (result.error) {
      throw new Error(`shellcheck could not run (${result.error.message}); install the Debian package: apt-get install -y shellcheck`);
    }
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('deploy.sh --dry-run', () => {
  it('aad mode: prints every step in order and calls nothing', () => {
    const { bin, log } = tripwireBin();
    const result = runScript(['--dry-run', '--location', 'westeurope', '--parameters', AAD_PARAMETERS], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readIfExists(log)).toBe('');
    const plan = planOf(result.stdout);
    const order = (
      [
        'preflight',
        'topics',
        'build',
        'package',
        'settingsCheck',
        'validate',
        'infrastructure',
        'graphGrant',
        'codeDeploy',
        'waitForFunctions',
        'eventSubscriptions',
      ] as const
    ).map((step) => stepIndex(plan, step));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(plan.some((line) => line.includes("appRoles[?value=='\\''Application.ReadWrite.OwnedBy'\\''].id"))).toBe(true);
    expect(result.stdout).toContain('dry run: nothing was changed');
  });

  it('single-pass mode: no Graph call at all, code still before event subscriptions', () => {
    const { bin, log } = tripwireBin();
    const result = runScript(['--dry-run', '--location', 'westeurope', '--parameters', SINGLE_PASS_PARAMETERS], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(result.status).toBe(0);
    expect(readIfExists(log)).toBe('');
    const plan = planOf(result.stdout);
    expect(plan.filter((line) => /graph\.microsoft\.com|^\+ az ad /.test(line))).toEqual([]);
    expect(result.stdout).toContain('skipped: single-pass mode creates no Entra applications');
    expect(stepIndex(plan, 'infrastructure')).toBeLessThan(stepIndex(plan, 'codeDeploy'));
    expect(stepIndex(plan, 'codeDeploy')).toBeLessThan(stepIndex(plan, 'eventSubscriptions'));
  });

  it('the plan is the same on every run (nothing depends on what a previous dry run did)', () => {
    const { bin } = tripwireBin();
    const normalise = (stdout: string) => planOf(stdout).map((line) => line.replace(/ade-autopilot-deploy\.[A-Za-z0-9]+/g, 'WORK'));
    const first = runScript(['--dry-run', '-l', 'westeurope'], { PATH: `${bin}:${process.env.PATH}` });
    const second = runScript(['--dry-run', '-l', 'westeurope'], { PATH: `${bin}:${process.env.PATH}` });
    expect(normalise(first.stdout)).toEqual(normalise(second.stdout));
    expect(normalise(first.stdout).length).toBeGreaterThan(10);
  });

  it.each([
    [['--dry-run', '--bogus'], "unknown argument '--bogus'"],
    [['--dry-run', '-l', 'westeurope', '-p', '/nonexistent.json'], 'parameters file not found'],
    [['--dry-run', '-l', 'westeurope', '--function-wait-seconds', 'soon'], 'must be a whole number'],
  ])('rejects %j with a clear message', (args, message) => {
    const result = runScript(args, {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it('durableBackend DurableTaskScheduler: the package is built for it, and the same parameters file deploys the scheduler', () => {
    const { bin, log } = tripwireBin();
    const file = parametersWith(freshDir('params'), { durableBackend: 'DurableTaskScheduler' });
    const result = runScript(['--dry-run', '-l', 'westeurope', '-p', file], { PATH: `${bin}:${process.env.PATH}` });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readIfExists(log)).toBe('');
    expect(result.stdout).toContain('Durable backend: DurableTaskScheduler');
    const plan = planOf(result.stdout);
    expect(plan.filter((line) => line.includes('/infra/package.cjs '))).toEqual([
      expect.stringMatching(/^\+ node \S+\/infra\/package\.cjs \S+\/app --durable-backend DurableTaskScheduler$/),
    ]);
    expect(plan.filter((line) => /^\+ az deployment sub (validate|create) --name ade-autopilot /.test(line))).toEqual([
      expect.stringContaining(`--parameters @${file} `),
      expect.stringContaining(`--parameters @${file} `),
    ]);
  });

  it('refuses a Durable backend main.json does not offer', () => {
    const file = parametersWith(freshDir('params'), { durableBackend: 'Netherite' });
    const result = runScript(['--dry-run', '-l', 'westeurope', '-p', file], {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("durableBackend must be AzureStorage or DurableTaskScheduler, got 'Netherite'");
  });

  it('refuses an encryption mode the app does not know', () => {
    const file = path.join(freshDir('params'), 'bad.parameters.json');
    writeFileSync(file, JSON.stringify({ parameters: { encryptionMode: { value: 'dual' } } }));
    const result = runScript(['--dry-run', '-l', 'westeurope', '-p', file], {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("encryptionMode must be aad, single-pass or encryption-at-host, got 'dual'");
  });
});

describe('deploy.sh against a stateful fake az', () => {
  interface Harness {
    env: NodeJS.ProcessEnv;
    log: string;
    packageDir: string;
  }

  function harness(): Harness {
    const dir = freshDir('fake');
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    copyFileSync(path.join(__dirname, 'fixtures', 'fake-az.cjs'), path.join(bin, 'az'));
    chmodSync(path.join(bin, 'az'), 0o755);
    const packageDir = path.join(dir, 'app');
    mkdirSync(path.join(packageDir, 'dist', 'functions'), { recursive: true });
    writeFileSync(path.join(packageDir, 'dist', 'functions', 'vmWritten.js'), 'module.exports = {};\n');
    writeFileSync(path.join(packageDir, 'host.json'), '{"version":"2.0"}\n');
    writeFileSync(path.join(packageDir, 'package.json'), '{"name":"app","main":"dist/functions/*.js"}\n');
    const log = path.join(dir, 'az.log');
    return { env: { PATH: `${bin}:${process.env.PATH}`, FAKE_AZ_LOG: log, FAKE_AZ_STATE: path.join(dir, 'state.json') }, log, packageDir };
  }

  function attempt(h: Harness, parameters = AAD_PARAMETERS, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []) {
    const before = readIfExists(h.log).split('\n').filter(Boolean).length;
    const result = runScript(
      ['--location', 'westeurope', '--parameters', parameters, '--package-dir', h.packageDir, '--function-wait-seconds', '5', ...extraArgs],
      { ...h.env, ADE_DEPLOY_ROLE_POLL_SECONDS: '1', ...env },
    );
    const calls = readIfExists(h.log)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);
    return { result, stdout: result.stdout, stderr: result.stderr, calls: calls.slice(before) };
  }

  function deploy(h: Harness, parameters = AAD_PARAMETERS, env: NodeJS.ProcessEnv = {}): { stdout: string; calls: string[][] } {
    const { result, stdout, calls } = attempt(h, parameters, env);
    expect(result.stderr, result.stdout).toBe('');
    expect(result.status).toBe(0);
    return { stdout, calls };
  }

  const mutating = (calls: string[][]) =>
    calls
      .map((c) => c.join(' '))
      .filter((c) => /^(deployment sub (create|validate)|functionapp deployment|resource tag|rest --method (POST|PATCH))/.test(c))
      .map((c) =>
        c.startsWith('deployment sub create --name ade-autopilot-events')
          ? 'create events'
          : c.startsWith('deployment sub create')
            ? 'create infrastructure'
            : c.startsWith('deployment sub validate')
              ? 'validate'
              : c.startsWith('functionapp')
                ? 'zip deploy'
                : c.startsWith('resource tag')
                  ? 'tag package'
                  : c.startsWith('rest --method PATCH')
                    ? 'add identity to topic'
                    : 'grant Graph permission',
      );

  it('first run: infrastructure, Graph grant, code, then event subscriptions; second run changes nothing already right', () => {
    const h = harness();
    const first = deploy(h);
    expect(mutating(first.calls)).toEqual([
      'validate',
      'create infrastructure',
      'grant Graph permission',
      'zip deploy',
      'tag package',
      'create events',
    ]);
    expect(first.stdout).toContain('granted');

    const second = deploy(h);
    // The templates are re-applied (declarative, no change); the code and the grant are left alone.
    expect(mutating(second.calls)).toEqual(['validate', 'create infrastructure', 'create events']);
    expect(second.stdout).toContain('already granted');
    expect(second.stdout).toMatch(/unchanged: func-ade-autopilot-abc123 already runs package [0-9a-f]{64}/);
    // The infrastructure deployment carried the deployed package hash, so re-applying it kept the tag.
    const infra = second.calls.find((c) => c.join(' ').startsWith('deployment sub create --name ade-autopilot '))!;
    expect(infra.find((a) => a.startsWith('deployedPackageSha256='))).toMatch(/^deployedPackageSha256=[0-9a-f]{64}$/);

    // A changed build is deployed again.
    writeFileSync(path.join(h.packageDir, 'dist', 'functions', 'vmWritten.js'), 'module.exports = { changed: true };\n');
    const third = deploy(h);
    expect(mutating(third.calls)).toEqual(['validate', 'create infrastructure', 'zip deploy', 'tag package', 'create events']);
  }, 300_000);

  it('single-pass mode never touches Microsoft Graph', () => {
    const h = harness();
    const { calls } = deploy(h, SINGLE_PASS_PARAMETERS);
    expect(calls.filter((c) => c[0] === 'ad' || (c[0] === 'rest' && c.some((a) => a.includes('graph.microsoft.com'))))).toEqual([]);
    expect(mutating(calls)).toEqual(['validate', 'create infrastructure', 'zip deploy', 'tag package', 'create events']);
  }, 150_000);

  it('a 403 on the code upload (role assignments propagating) is waited out and retried', () => {
    const h = harness();
    const { stdout, calls } = deploy(h, SINGLE_PASS_PARAMETERS, { FAKE_AZ_ZIP_FORBIDDEN: '2' });
    expect(mutating(calls)).toEqual([
      'validate',
      'create infrastructure',
      'zip deploy',
      'zip deploy',
      'zip deploy',
      'tag package',
      'create events',
    ]);
    expect(stdout.match(/refused for missing authorization \(attempt \d\): waiting 1s/g)).toHaveLength(2);
    expect(stdout).toContain('accepted on attempt 3');
  }, 150_000);

  it('gives up with a clear message when the refusal outlasts --role-wait-seconds', () => {
    const h = harness();
    const { result, calls } = attempt(h, SINGLE_PASS_PARAMETERS, { FAKE_AZ_ZIP_FORBIDDEN: '1000' }, ['--role-wait-seconds', '2']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('still refused for missing authorization after 2s');
    expect(mutating(calls).filter((c) => c === 'zip deploy').length).toBeGreaterThanOrEqual(2);
    expect(mutating(calls)).not.toContain('create events');
  }, 150_000);

  it('reuses an existing Microsoft.Resources.Subscriptions system topic and adds the app identity to it', () => {
    const h = harness();
    const env = { FAKE_AZ_EXISTING_TOPIC: 'rg-other-tool/other-tool-arm-events' };
    const { stdout, calls } = deploy(h, SINGLE_PASS_PARAMETERS, env);
    expect(stdout).toContain(
      'reusing: {"00000000-1111-2222-3333-444444444444":{"resourceGroup":"rg-other-tool","name":"other-tool-arm-events"}}',
    );
    const infra = calls.find((c) => c.join(' ').startsWith('deployment sub create --name ade-autopilot '))!;
    const reused = { '00000000-1111-2222-3333-444444444444': { resourceGroup: 'rg-other-tool', name: 'other-tool-arm-events' } };
    expect(infra).toContain(`existingResourceEventsTopics=${JSON.stringify(reused)}`);
    expect(stdout).toContain(`reusing: ${JSON.stringify(reused)}`);
    expect(mutating(calls)).toEqual([
      'validate',
      'create infrastructure',
      'zip deploy',
      'tag package',
      'add identity to topic',
      'create events',
    ]);
    const patch = calls.find((c) => c[0] === 'rest' && c.includes('PATCH'))!;
    const body = JSON.parse(patch[patch.indexOf('--body') + 1]!) as { identity: { type: string; userAssignedIdentities: object } };
    // The topic keeps its own system-assigned identity.
    expect(body.identity.type).toBe('SystemAssigned,UserAssigned');
    expect(Object.keys(body.identity.userAssignedIdentities)).toEqual([expect.stringMatching(/userAssignedIdentities\/id-ade-autopilot$/)]);
    // A second run finds the identity already there.
    const second = deploy(h, SINGLE_PASS_PARAMETERS, env);
    expect(mutating(second.calls)).toEqual(['validate', 'create infrastructure', 'create events']);
    expect(second.stdout).toContain("already has the app's identity");
  }, 150_000);

  it("the app's own topic from an earlier run is not mistaken for an existing one", () => {
    const h = harness();
    deploy(h, SINGLE_PASS_PARAMETERS);
    const second = deploy(h, SINGLE_PASS_PARAMETERS);
    expect(second.stdout).toContain('none: main.json creates ade-autopilot-resource-events');
  }, 150_000);

  it.each([
    [
      'a Contributor cannot create the role assignments',
      AAD_PARAMETERS,
      { FAKE_AZ_RIGHTS: 'contributor' },
      [
        'may not create role assignments',
        'az role assignment create --assignee deployer@contoso.example --role Owner --scope /subscriptions/',
      ],
    ],
    [
      'aad mode without an Entra role that may grant Graph permissions',
      AAD_PARAMETERS,
      { FAKE_AZ_GRAPH_ADMIN: '0' },
      ['Application.ReadWrite.OwnedBy', 'a Privileged Role Administrator runs this same deployment', 'single-pass.parameters.json'],
    ],
  ])('pre-flight refuses before anything is created: %s', (_name, parameters, env, messages) => {
    const h = harness();
    const { result, calls } = attempt(h, parameters, env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('pre-flight refused; nothing was created');
    for (const message of messages) expect(result.stderr).toContain(message);
    expect(mutating(calls)).toEqual([]);
  });

  it.each([
    ['an Azure Storage package for DurableTaskScheduler', 'DurableTaskScheduler', '{"version":"2.0"}', 'its host.json is AzureStorage'],
    [
      'a scheduler package for AzureStorage',
      'AzureStorage',
      '{"extensions":{"durableTask":{"storageProvider":{"type":"azureManaged","connectionStringName":"X"}}}}',
      'its host.json is DurableTaskScheduler',
    ],
  ])(
    'a prebuilt package whose host.json does not match durableBackend is refused before Azure is called: %s',
    (_label, backend, hostJson, message) => {
      const h = harness();
      writeFileSync(path.join(h.packageDir, 'host.json'), hostJson);
      const file = parametersWith(freshDir('params'), { durableBackend: backend });
      const { result, calls } = attempt(h, file);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain(`rebuild it with: node infra/package.cjs <dir> --durable-backend ${backend}`);
      expect(calls).toEqual([]);
    },
  );

  it('DurableTaskScheduler end to end: the matching package is deployed and the infrastructure gets the backend', () => {
    const h = harness();
    writeFileSync(
      path.join(h.packageDir, 'host.json'),
      JSON.stringify({
        version: '2.0',
        extensions: {
          durableTask: {
            hubName: '%TASKHUB_NAME%',
            storageProvider: { type: 'azureManaged', connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING' },
          },
        },
      }),
    );
    const file = parametersWith(freshDir('params'), { durableBackend: 'DurableTaskScheduler', durableTaskSchedulerSku: 'Dedicated' });
    const { stdout, calls } = deploy(h, file);
    expect(stdout).toContain('Durable backend: DurableTaskScheduler');
    expect(mutating(calls)).toEqual(['validate', 'create infrastructure', 'zip deploy', 'tag package', 'create events']);
    const infra = calls.find((c) => c.join(' ').startsWith('deployment sub create --name ade-autopilot '))!;
    expect(infra).toContain(`@${file}`);
    const sent = JSON.parse(readFileSync(file, 'utf8')) as { parameters: Record<string, { value: unknown }> };
    expect(sent.parameters.durableBackend?.value).toBe('DurableTaskScheduler');
  }, 150_000);

  it('single-pass mode needs no Graph role: the same caller passes the pre-flight', () => {
    const h = harness();
    const { calls } = deploy(h, SINGLE_PASS_PARAMETERS, { FAKE_AZ_GRAPH_ADMIN: '0' });
    expect(mutating(calls)).toContain('create events');
  }, 150_000);

  it('the fake enforces the ordering rule: event subscriptions before code fail like Azure does', () => {
    const h = harness();
    const result = spawnSync(
      path.join(path.dirname(h.env.FAKE_AZ_STATE!), 'bin', 'az'),
      ['deployment', 'sub', 'create', '--name', 'x-events', '--template-file', path.join(INFRA_DIR, 'event-subscriptions.json')],
      {
        encoding: 'utf8',
        env: { ...process.env, ...h.env },
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Destination endpoint not found');
  });
});
