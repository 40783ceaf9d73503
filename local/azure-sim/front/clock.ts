/**
 * Simulated clock. Time runs `scale` times faster than real time so long Azure durations
 * (extension runs, retry schedules) pass quickly; changing the scale keeps `now()` continuous
 * and re-times pending sleeps.
 */
import type { Clock } from '../contract';

interface PendingSleep {
  targetSimMs: number;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

export class ScaledClock implements Clock {
  private baseSim: number;
  private baseReal: number;
  private scale: number;
  private readonly pending = new Set<PendingSleep>();

  constructor(scale = 1, startSimMs = Date.now()) {
    if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`time scale must be a positive number, got ${scale}`);
    this.scale = scale;
    this.baseSim = startSimMs;
    this.baseReal = Date.now();
  }

  now(): number {
    return Math.floor(this.baseSim + (Date.now() - this.baseReal) * this.scale);
  }

  getScale(): number {
    return this.scale;
  }

  setScale(scale: number): void {
    if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`time scale must be a positive number, got ${scale}`);
    this.baseSim = this.now();
    this.baseReal = Date.now();
    this.scale = scale;
    for (const sleep of this.pending) {
      clearTimeout(sleep.timer);
      sleep.timer = this.schedule(sleep);
    }
  }

  /** Jumps simulated time forward (tests: expire credentials, pass retention periods). */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error(`can only advance time by a non-negative number of ms, got ${ms}`);
    this.baseSim += ms;
    for (const sleep of this.pending) {
      clearTimeout(sleep.timer);
      sleep.timer = this.schedule(sleep);
    }
  }

  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleep: PendingSleep = { targetSimMs: this.now() + ms, resolve, timer: undefined as unknown as NodeJS.Timeout };
      sleep.timer = this.schedule(sleep);
      this.pending.add(sleep);
    });
  }

  /** Resolves every pending sleep now (used on shutdown so nothing hangs). */
  releaseAll(): void {
    for (const sleep of this.pending) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.pending.clear();
  }

  private schedule(sleep: PendingSleep): NodeJS.Timeout {
    const realMs = Math.max(0, (sleep.targetSimMs - this.now()) / this.scale);
    // setTimeout caps at ~24.8 days; re-arm in steps beyond that.
    const step = Math.min(realMs, 2 ** 31 - 1);
    const timer = setTimeout(() => {
      if (this.now() >= sleep.targetSimMs || step === realMs) {
        this.pending.delete(sleep);
        sleep.resolve();
      } else {
        sleep.timer = this.schedule(sleep);
      }
    }, step);
    timer.unref();
    return timer;
  }
}
