/**
 * `npm run host -- --app <dir> [--port 7071] [--state <dir>] [--no-keys]
 *   [--platform flex-consumption|elastic-premium [--platform-site <site resource id>]] [--log-format json|text]`
 *
 * Prints exactly one line `Host listening on http://127.0.0.1:<port>` when ready, then the function table and
 * keys. Keys come from FUNCTIONS_HOST_MASTER_KEY / _FUNCTION_KEY / _EVENTGRID_KEY / _DURABLE_KEY (environment or
 * local.settings.json Values) or are generated. Logs go to stderr as JSON lines.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startHost, type Host } from './index';
import { readLocalSettings } from './runtime/app-files';
import { HOSTING_PLANS, isHostingPlan, parseSiteResourceId, type PlatformOptions } from './runtime/platform';
import { errorMessage } from './runtime/load-app';
import { createStructuredLogger } from './runtime/logger';

const usage =
  'Usage: npm run host -- --app <dir> [--port 7071] [--state <dir>] [--no-keys] ' +
  '[--platform flex-consumption|elastic-premium [--platform-site <site resource id>]] ' +
  '[--log-format json|text] [--log-level information]';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        app: { type: 'string' },
        port: { type: 'string' },
        state: { type: 'string' },
        'no-keys': { type: 'boolean' },
        platform: { type: 'string' },
        'platform-site': { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${errorMessage(err)}\n${usage}`);
  }
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (!args.app) fail(`--app is required\n${usage}`);
  const port = args.port === undefined ? 7071 : Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer 0-65535, got '${args.port}'`);
  const plan = args.platform;
  if (plan !== undefined && !isHostingPlan(plan)) fail(`--platform must be one of ${HOSTING_PLANS.join(', ')}, got '${plan}'`);
  if (args['platform-site'] !== undefined && plan === undefined) fail('--platform-site needs --platform');
  let platform: PlatformOptions | undefined;
  if (plan !== undefined) {
    const site = args['platform-site'] === undefined ? {} : parseSiteResourceId(args['platform-site']);
    if (!site)
      fail(
        `--platform-site must be /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<name>, ` +
          `got '${args['platform-site']}'`,
      );
    platform = { plan, ...site };
  }
  const format = args['log-format'] === 'text' ? 'text' : 'json';
  const level = (args['log-level'] ?? 'information') as 'information';

  const appDir = path.resolve(args.app);
  let settings: Record<string, string> = {};
  try {
    settings = readLocalSettings(appDir);
  } catch (err) {
    fail(errorMessage(err));
  }
  const setting = (name: string) => process.env[name] || settings[name] || undefined;
  const keys = args['no-keys']
    ? (false as const)
    : {
        master: setting('FUNCTIONS_HOST_MASTER_KEY'),
        function: setting('FUNCTIONS_HOST_FUNCTION_KEY'),
        eventGrid: setting('FUNCTIONS_HOST_EVENTGRID_KEY'),
        durable: setting('FUNCTIONS_HOST_DURABLE_KEY'),
      };

  let host: Host;
  try {
    host = await startHost({
      appDir,
      port,
      keys,
      ...(platform ? { platform } : {}),
      stateDir: path.resolve(args.state ?? path.join(appDir, '.state', 'host')),
      logger: createStructuredLogger({ write: (line) => process.stderr.write(line), format, minLevel: level }),
    });
  } catch (err) {
    fail(`Host failed to start: ${errorMessage(err)}`);
  }

  process.stdout.write(`Host listening on ${host.baseUrl}\n`);
  process.stdout.write(describe(host));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping host\n`);
    host.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function describe(host: Host): string {
  const rows: string[][] = [['Function', 'Trigger', 'Details']];
  const routes = new Map(host.routes.map((r) => [r.name, r]));
  for (const fn of host.runtime.list()) {
    const route = routes.get(fn.name);
    let details = '';
    if (route) details = `[${route.methods.join(',')}] ${host.baseUrl}/${route.template} (${route.authLevel})`;
    else if (fn.trigger.type === 'timerTrigger') details = `schedule ${host.timers[fn.name]}`;
    else if (fn.trigger.type === 'eventGridTrigger') details = `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=${fn.name}`;
    rows.push([fn.name, fn.trigger.type, details]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  if (host.keys) {
    lines.push(
      '',
      'Keys (code= query or x-functions-key header):',
      `  master:    ${host.keys.master}`,
      `  function:  ${host.keys.function}`,
      `  eventgrid_extension:  ${host.keys.eventGrid}`,
      `  durabletask_extension: ${host.keys.durable}`,
    );
  } else lines.push('', 'Keys: disabled (every endpoint is anonymous)');
  return `${lines.join('\n')}\n`;
}

main().catch((err: unknown) => fail(`Host failed: ${errorMessage(err)}`));
