/**
 * ARM's token-bucket throttling: per subscription + principal, separately for reads, writes and deletes
 * (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
 * Buckets refill in real time (the simulator's one clock); Retry-After is in seconds.
 */
import type { Clock } from '../contract';

export type OperationClass = 'reads' | 'writes' | 'deletes';

export interface BucketLimit {
  bucketSize: number;
  refillPerSecond: number;
}

export type ThrottleConfig = Record<OperationClass, BucketLimit> & { enabled: boolean };

/** Azure's published numbers: reads 250 / 25 per s, writes and deletes 200 / 10 per s. */
export function defaultThrottleConfig(): ThrottleConfig {
  return {
    enabled: true,
    reads: { bucketSize: 250, refillPerSecond: 25 },
    writes: { bucketSize: 200, refillPerSecond: 10 },
    deletes: { bucketSize: 200, refillPerSecond: 10 },
  };
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface ThrottleDecision {
  allowed: boolean;
  remaining: number;
  /** Real seconds to wait before retrying, when not allowed. */
  retryAfterSeconds: number;
}

export class ArmThrottle {
  private buckets = new Map<string, Bucket>();
  config: ThrottleConfig = defaultThrottleConfig();

  constructor(private readonly clock: Clock) {}

  take(subscriptionId: string, principalId: string, operationClass: OperationClass): ThrottleDecision {
    const limit = this.config[operationClass];
    if (!this.config.enabled) return { allowed: true, remaining: limit.bucketSize, retryAfterSeconds: 0 };
    const id = `${subscriptionId.toLowerCase()}|${principalId}|${operationClass}`;
    const now = this.clock.now();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = { tokens: limit.bucketSize, updatedAt: now };
      this.buckets.set(id, bucket);
    }
    const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(limit.bucketSize, bucket.tokens + elapsedSeconds * limit.refillPerSecond);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    const secondsToToken = limit.refillPerSecond > 0 ? (1 - bucket.tokens) / limit.refillPerSecond : 3600;
    return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(secondsToToken)) };
  }

  reset(): void {
    this.buckets.clear();
  }
}
