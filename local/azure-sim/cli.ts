/**
 * `npm run sim -- [--port N] [--state DIR] [--speed X]`: starts the Azure simulator, writes
 * DIR/sim.env (source it to point a shell at the simulator) and keeps running until SIGINT/SIGTERM,
 * saving state under DIR on exit and every 30 seconds. `--speed` shortens what Azure makes slow (VM
 * operations, extension runs, Event Grid retry back-off); the clock is always real time.
 * `--time-scale` is an old alias of `--speed`.
 */
import { join, resolve } from 'node:path';
import { startSimulator, writeEnvFile, type Simulator } from './index';

export interface CliOptions {
  port: number;
  stateDir: string;
  speed: number;
}

export function parseCliArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { port: 0, stateDir: resolve('.state/azure-sim'), speed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer 0-65535`);
        opts.port = port;
        break;
      }
      case '--state':
        opts.stateDir = resolve(value());
        break;
      case '--speed':
      case '--time-scale': {
        const speed = Number(value());
        if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`${flag} must be a positive number`);
        opts.speed = speed;
        break;
      }
      case '--help':
      case '-h':
        throw new Error('usage');
      default:
        throw new Error(`unknown argument '${arg}'`);
    }
  }
  return opts;
}

const USAGE = 'usage: npm run sim -- [--port N] [--state DIR] [--speed X]';

/** Starts the simulator for the CLI and writes DIR/sim.env. */
export async function runCli(opts: CliOptions): Promise<{ sim: Simulator; envPath: string }> {
  const sim = await startSimulator({
    port: opts.port,
    stateDir: opts.stateDir,
    speed: opts.speed,
    log: (level, message, fields) => {
      if (level !== 'debug') process.stderr.write(`[azure-sim] ${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
    },
  });
  const envPath = join(opts.stateDir, 'sim.env');
  writeEnvFile(envPath, sim.env);
  return { sim, envPath };
}

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message === 'usage' ? '' : `${(err as Error).message}\n`}${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const { sim, envPath } = await runCli(opts);
  process.stdout.write(
    [
      `Azure simulator listening on ${sim.url} (proxy + control API ${sim.url}/_sim/health)`,
      `  tenant        ${sim.seed.tenantId}`,
      `  subscription  ${sim.seed.subscriptionId}${sim.mounted.arm ? '' : ' (Resource Manager not mounted)'}`,
      `  client id     ${sim.seed.clientId}`,
      `  CA            ${sim.caCertPath}`,
      `  env           source ${envPath}`,
      '',
    ].join('\n'),
  );
  const autosave = setInterval(() => {
    fetch(`${sim.url}/_sim/state/save`, { method: 'POST' }).catch(() => undefined);
  }, 30_000);
  autosave.unref();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(autosave);
    process.stderr.write(`[azure-sim] ${signal}: saving state and stopping\n`);
    sim.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`[azure-sim] stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`[azure-sim] failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
