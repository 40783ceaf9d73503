/**
 * The local Functions host as a child process (dist/local/host/cli.js). A separate process because
 * the app must see its settings — NODE_EXTRA_CA_CERTS above all — from the moment Node starts, as
 * it would on App Service, and so the host and the simulator each get a core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export interface HostProcessOptions {
  /** The built host CLI (dist/local/host/cli.js). */
  cliPath: string;
  appDir: string;
  port: number;
  stateDir: string;
  /** The complete environment of the child (app settings and host keys included). */
  env: Record<string, string>;
  /** Where the host's JSON log lines go (its stderr); a file keeps the terminal readable. */
  logFile: string;
  logLevel?: string;
  /** Give up waiting for the ready line after this long (default 60 s). */
  readyTimeoutMs?: number;
}

export interface HostProcess {
  baseUrl: string;
  pid: number;
  /** Resolves with the exit code (or signal name) when the child ends, whoever ended it. */
  exited: Promise<number | string>;
  /** SIGINT, then SIGKILL after graceMs; resolves when the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

const READY = /^Host listening on (http:\/\/\S+)\s*$/m;

export async function startHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
  const args = [
    '--enable-source-maps',
    options.cliPath,
    '--app',
    options.appDir,
    '--port',
    String(options.port),
    '--state',
    options.stateDir,
    '--log-level',
    options.logLevel ?? 'information',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: options.appDir, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
    });
  });
  void exited.then(() => log.end());
  // The host's stdout repeats its keys; keep it out of the log file and only look for the ready line.
  let stdout = '';
  let stderrTail = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log.write(chunk);
    stderrTail = (stderrTail + chunk).slice(-4000);
  });

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The local host did not report ready within ${options.readyTimeoutMs ?? 60_000} ms. Its log: ${options.logFile}`));
    }, options.readyTimeoutMs ?? 60_000);
    child.stdout!.on('data', (chunk: string) => {
      if (stdout.length < 100_000) stdout += chunk;
      const match = READY.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      const lastLines = stderrTail.trim().split('\n').slice(-5).join('\n');
      reject(new Error(`The local host exited (${code}) before it was ready:\n${lastLines}\nFull log: ${options.logFile}`));
    });
  });

  return {
    baseUrl,
    pid: child.pid!,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
