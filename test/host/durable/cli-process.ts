// Spawning the real CLI (dist/local/host/cli.js) for crash/restart tests and the benchmark.
// dist/ is built by the test run's global setup (test/global-setup.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
const cliJs = path.join(repoRoot, 'dist/local/host/cli.js');

export interface HostProcess {
  child: ChildProcess;
  baseUrl: string;
  stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the CLI and resolves once it prints `Host listening on http://127.0.0.1:<port>`. */
export function spawnHost(args: string[], env: Record<string, string> = {}): Promise<HostProcess> {
  const child = spawn(process.execPath, [cliJs, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env, NO_PROXY: '127.0.0.1,localhost', VITEST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`host did not start in 30 s:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /Host listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({
          child,
          baseUrl: m[1],
          stderr: () => stderr,
          async kill(signal = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code} before listening:\n${stdout}\n${stderr}`));
    });
  });
}
