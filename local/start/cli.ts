/**
 * `npm start` (after `npm run build`): the Azure simulator + the local Functions host on the built app,
 * wired together, until Ctrl-C. `npm start -- --azure` runs only the host, against real Azure.
 *
 *   npm start -- [--port 7071] [--sim-port 0] [--speed 60] [--state .state] [--local-settings FILE]
 *
 * `--speed` shortens what Azure makes slow (VM operations, extension and encryption runs) in the simulator; the
 * clock of the simulator, the host and the app is real time. `--time-scale` is an old alias of `--speed`.
 *   npm start -- --azure [--port 7071] [--state .state] [--local-settings FILE]
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startHostProcess, type HostProcess } from './host-process';
import { azureAppSettings, checkAzureSettings, readLocalSettingsValues } from './settings';
import { DEMO_RESOURCE_GROUP, startLocalStack, type LocalStack } from './stack';
import type { StartState } from './state-file';

/** The line a script (or the test) waits for; everything after it is usage help. */
export const READY_PREFIX = 'ade-autopilot is running';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const USAGE = `usage: npm start -- [--port 7071] [--sim-port 0] [--speed 60] [--state DIR] [--local-settings FILE]
       npm start -- --azure [--port 7071] [--state DIR] [--local-settings FILE]`;

interface CliOptions {
  azure: boolean;
  port: number;
  simPort: number;
  speed: number;
  stateRoot: string;
  localSettingsFile: string;
}

function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      azure: { type: 'boolean' },
      port: { type: 'string' },
      'sim-port': { type: 'string' },
      speed: { type: 'string' },
      'time-scale': { type: 'string' },
      state: { type: 'string' },
      'local-settings': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) throw new UsageRequested();
  const port = (name: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be an integer 0-65535, got '${raw}'`);
    return n;
  };
  const [speedFlag, rawSpeed] = values.speed !== undefined ? ['--speed', values.speed] : ['--time-scale', values['time-scale']];
  const speed = rawSpeed === undefined ? 60 : Number(rawSpeed);
  if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`${speedFlag} must be a positive number, got '${rawSpeed}'`);
  return {
    azure: values.azure === true,
    port: port('port', values.port, 7071),
    simPort: port('sim-port', values['sim-port'], 0),
    speed,
    stateRoot: path.resolve(values.state ?? path.join(REPO_ROOT, '.state')),
    localSettingsFile: path.resolve(values['local-settings'] ?? path.join(REPO_ROOT, 'local.settings.json')),
  };
}

class UsageRequested extends Error {}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function printLocalInstructions(stack: LocalStack, stateRoot: string): void {
  const s: StartState = stack.state;
  const simEnv = path.join(stateRoot, 'sim', 'sim.env');
  const resourceGroupId = `/subscriptions/${s.subscriptionId}/resourceGroups/${DEMO_RESOURCE_GROUP}`;
  const vmId = `${resourceGroupId}/providers/Microsoft.Compute/virtualMachines/vm-curl`;
  say(`${READY_PREFIX}: host ${s.hostUrl}, Azure simulator ${s.simUrl} (slow Azure operations ×${s.speed} faster; real-time clock)`);
  say();
  say('Local Functions host (built app):');
  say(`  ${s.hostUrl}            host log: ${stack.hostLogFile}`);
  say(`  dashboard: ${s.hostUrl}/api/dashboard?code=${s.keys.function}`);
  say(`  POST ${s.hostUrl}/api/vms/encrypt   (function key)`);
  say(`  GET  ${s.hostUrl}/api/vms, /api/summary   (fleet status, function key)`);
  say(`  ${s.hostUrl}/runtime/webhooks/durabletask/instances?code=<durabletask key>   (orchestration status)`);
  say('  keys (code= query or x-functions-key header):');
  say(`    master:    ${s.keys.master}`);
  say(`    function:  ${s.keys.function}`);
  say(`    eventgrid_extension:   ${s.keys.eventGrid}`);
  say(`    durabletask_extension: ${s.keys.durable}`);
  say();
  say('Azure simulator:');
  say(`  proxy + control API ${s.simUrl}  (${s.simUrl}/_sim/health, request log ${s.simUrl}/_sim/requests/counts)`);
  say(`  tenant ${s.tenantId}, subscription ${s.subscriptionId}`);
  say(`  shell environment (the demo user, not the app): source ${simEnv}`);
  say('    then e.g. az login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID"');
  say(`  events wired: ${stack.wiring.wired.map((w) => `${w.topic.name}/${w.name} → ${w.functionName}`).join(', ') || 'none'}`);
  for (const { planned, reason } of stack.wiring.skipped)
    say(`  not wired: ${planned.topic.name}/${planned.name} → ${planned.functionName} (${reason})`);
  say();
  say('Create a VM and watch it get encrypted:');
  say('  1) curl only — seed a VM through the simulator control API (no ARM event), then ask the app to encrypt it:');
  say(`     curl -s -X POST ${s.simUrl}/_sim/arm/vms -H 'content-type: application/json' \\`);
  say(
    `       -d ` +
      `'{"subscriptionId":"${s.subscriptionId}","resourceGroup":"${DEMO_RESOURCE_GROUP}","name":"vm-curl",` +
      `"osType":"Linux","location":"westeurope","dataDisks":1}'`,
  );
  say(`     curl -s -X POST '${s.hostUrl}/api/vms/encrypt?code=${s.keys.function}' -H 'content-type: application/json' \\`);
  say(`       -d '{"vmId":"${vmId}"}'`);
  say('  2) event-driven — create it through Resource Manager with @azure/arm-compute from a shell with sim.env (the demo user,');
  say('     so vmWritten picks it up):');
  say(`     (source ${sh(simEnv)} && cd ${sh(REPO_ROOT)} && node -e '`);
  say(
    `       const { EnvironmentCredential } = require("@azure/identity"); const { ` +
      `ComputeManagementClient } = require("@azure/arm-compute");`,
  );
  say('       new ComputeManagementClient(new EnvironmentCredential(), process.env.AZURE_SUBSCRIPTION_ID)');
  say(
    `         .virtualMachines.beginCreateOrUpdateAndWait("${DEMO_RESOURCE_GROUP}", "vm-node", { ` +
      `location: "westeurope", hardwareProfile: { vmSize: "Standard_D2s_v5" },`,
  );
  say(
    '           storageProfile: { imageReference: { publisher: "Canonical", offer: ' +
      '"0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" },',
  );
  say(
    '             osDisk: { createOption: "FromImage", osType: "Linux" }, dataDisks: [{ lun: 0, ' +
      'createOption: "Empty", diskSizeGB: 64 }] },',
  );
  say(
    '           osProfile: { computerName: "vm-node", adminUsername: "azureuser", linuxConfiguration: { ' +
      'disablePasswordAuthentication: true } } })',
  );
  say('         .then((vm) => console.log("created", vm.id));\')');
  say('  3) or a handful at once with a live progress table:  npm run demo');
  say();
  say('Ctrl-C stops the host, then the simulator (state is kept under ' + stateRoot + ').');
}

/** Waits for SIGINT/SIGTERM or an unexpected host exit, then stops host then simulator. */
async function runUntilStopped(stop: () => Promise<void>, host: HostProcess, what: string): Promise<number> {
  let stopping = false;
  const exitCode = await new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: stopping ${what}…\n`);
      resolve(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void host.exited.then((code) => {
      if (stopping) return;
      stopping = true;
      // On a terminal, Ctrl-C reaches the host child too (same process group) and it may finish first:
      // a clean exit is a stop request, anything else a crash.
      if (code === 0) {
        process.stderr.write(`The local host stopped; stopping ${what}…\n`);
        resolve(0);
      } else {
        process.stderr.write(`The local host exited unexpectedly (${code}); stopping.\n`);
        resolve(1);
      }
    });
  });
  await stop();
  process.stderr.write('Stopped.\n');
  return exitCode;
}

async function runLocal(options: CliOptions): Promise<number> {
  const stack = await startLocalStack({
    repoRoot: REPO_ROOT,
    stateRoot: options.stateRoot,
    hostPort: options.port,
    simPort: options.simPort,
    speed: options.speed,
    localSettingsFile: options.localSettingsFile,
    env: process.env,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  printLocalInstructions(stack, options.stateRoot);
  return runUntilStopped(() => stack.stop(), stack.host, 'the host, then the Azure simulator');
}

async function runAzure(options: CliOptions): Promise<number> {
  const settings = azureAppSettings(readLocalSettingsValues(options.localSettingsFile), process.env);
  const config = checkAzureSettings(settings);
  const key = (name: string) => settings[name] || randomBytes(24).toString('base64url');
  const keys = {
    master: key('FUNCTIONS_HOST_MASTER_KEY'),
    function: key('FUNCTIONS_HOST_FUNCTION_KEY'),
    eventGrid: key('FUNCTIONS_HOST_EVENTGRID_KEY'),
    durable: key('FUNCTIONS_HOST_DURABLE_KEY'),
  };
  const logFile = path.join(options.stateRoot, 'host-azure.log');
  const host = await startHostProcess({
    cliPath: path.join(REPO_ROOT, 'dist/local/host/cli.js'),
    appDir: REPO_ROOT,
    port: options.port,
    stateDir: path.join(options.stateRoot, 'host-azure'),
    env: {
      ...settings,
      FUNCTIONS_HOST_MASTER_KEY: keys.master,
      FUNCTIONS_HOST_FUNCTION_KEY: keys.function,
      FUNCTIONS_HOST_EVENTGRID_KEY: keys.eventGrid,
      FUNCTIONS_HOST_DURABLE_KEY: keys.durable,
    },
    logFile,
  });
  say(
    `${READY_PREFIX} against real Azure: host ${host.baseUrl} (subscriptions ` +
      `${config.subscriptions.join(', ')}, mode ` +
      `${config.encryptionMode}${config.dryRun ? ', DRY RUN' : ''})`,
  );
  say(`  host log: ${logFile}`);
  say(`  dashboard: ${host.baseUrl}/api/dashboard?code=${keys.function}`);
  say(
    `  encrypt one VM: curl -X POST '${host.baseUrl}/api/vms/encrypt?code=${keys.function}' -H ` +
      `'content-type: application/json' -d '{"vmId":"/subscriptions/…/virtualMachines/…"}'`,
  );
  say(
    `  keys: master ${keys.master}  function ${keys.function}  eventgrid_extension ${keys.eventGrid}  ` +
      `durabletask_extension ${keys.durable}`,
  );
  say('  Event Grid cannot reach 127.0.0.1: for event-driven runs expose the host through a tunnel and point the');
  say("  subscription's vm-written event subscription (and ADE_SECRET_EVENTS_WEBHOOK_URL) at it; without them runs");
  say('  started on demand complete through status polling.');
  return runUntilStopped(() => host.stop(), host, 'the host');
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageRequested) {
      say(USAGE);
      return;
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  let code: number;
  try {
    code = options.azure ? await runAzure(options) : await runLocal(options);
  } catch (error) {
    process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
  // Everything we started is stopped by now; SDK keep-alive sockets must not hold the process open.
  process.exit(code);
}

if (require.main === module) void main();
