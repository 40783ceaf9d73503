/**
 * The simulator's one clock: real time. Every timestamp, token and credential expiry, throttling
 * window and retention date is judged by `now()` = `Date.now()`, exactly the clock the app and the
 * Azure SDKs use. The only knob is `speed`, a speed-up for what Azure makes slow (VM operations,
 * extension and encryption runs, Event Grid retry back-off): those waits are divided by it. It never
 * moves `now()` and never changes a timestamp a client sees.
 */
import type { Clock } from '../contract';

/** Checks a speed-up factor (a positive, finite number). */
export function checkSpeed(speed: number, flag = 'speed'): number {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`${flag} must be a positive number, got ${speed}`);
  return speed;
}

interface PendingWait {
  resolve: () => void;
  timer: NodeJS.Timeout;
}

export class RealClock implements Clock {
  readonly speed: number;
  private readonly pending = new Set<PendingWait>();

  constructor(speed = 1) {
    this.speed = checkSpeed(speed);
  }

  now(): number {
    return Date.now();
  }

  shorten(azureMs: number): number {
    return Math.max(0, azureMs) / this.speed;
  }

  slowOperation(azureMs: number): Promise<void> {
    const ms = this.shorten(azureMs);
    if (!(ms > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wait: PendingWait = {
        resolve,
        timer: setTimeout(
          () => {
            this.pending.delete(wait);
            resolve();
          },
          Math.min(ms, 2 ** 31 - 1),
        ),
      };
      wait.timer.unref();
      this.pending.add(wait);
    });
  }

  /** Resolves every pending wait now (used on shutdown so nothing hangs). */
  releaseAll(): void {
    for (const wait of this.pending) {
      clearTimeout(wait.timer);
      wait.resolve();
    }
    this.pending.clear();
  }
}
