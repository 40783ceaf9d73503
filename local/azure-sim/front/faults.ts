/**
 * Fault injection: rules matched by service and operation that add latency, fail a fraction of
 * requests, or fail the next N matching requests with a chosen status.
 */
import { randomUUID } from 'node:crypto';

export interface FaultRule {
  id: string;
  /** Service name ('arm', 'graph', 'keyvault', 'login', 'eventgrid', ...) or '*' for all. */
  service: string;
  /** Case-insensitive glob over the operation name ('*' wildcards); omitted = any operation. */
  operation?: string;
  /** HTTP method filter, e.g. 'PUT'; omitted = any. */
  method?: string;
  /** Only requests authenticated as this principal (object id, case-insensitive); omitted = anyone's. */
  principal?: string;
  /** Status to answer with when the rule fails a request (default 500). */
  status: number;
  /** Service error code in the envelope (default derived from the status). */
  code?: string;
  message?: string;
  /** Probability 0..1 that a matching request fails. */
  errorRate: number;
  /** Fail the next N matching requests (counts down), in addition to errorRate. */
  failNext: number;
  /** Extra latency in real milliseconds before the request is handled. */
  latencyMs: number;
  /** Retry-After seconds sent with 429/503 answers. */
  retryAfterSeconds?: number;
  /**
   * Instead of an HTTP answer, a failed request loses its connection: `reset` closes it at once, `timeout` holds it
   * `hangMs` (default 20 s) without answering, then closes it (the client sees its own timeout or a reset).
   */
  connection?: 'reset' | 'timeout';
  hangMs?: number;
  /** Matching requests seen / failed so far. */
  matched: number;
  failed: number;
}

export type FaultInput = Partial<Omit<FaultRule, 'id' | 'matched' | 'failed'>> & { service?: string };

export interface FaultDecision {
  latencyMs: number;
  fail?: { status: number; code?: string; message?: string; retryAfterSeconds?: number; ruleId: string; dropAfterMs?: number };
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(input: FaultInput): FaultRule {
    const status = input.status ?? 500;
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new Error(`fault status must be an HTTP error status 400-599, got ${String(input.status)}`);
    const errorRate = input.errorRate ?? 0;
    if (!(errorRate >= 0 && errorRate <= 1)) throw new Error(`fault errorRate must be between 0 and 1, got ${String(input.errorRate)}`);
    const failNext = input.failNext ?? 0;
    if (!Number.isInteger(failNext) || failNext < 0)
      throw new Error(`fault failNext must be a non-negative integer, got ${String(input.failNext)}`);
    const latencyMs = input.latencyMs ?? 0;
    if (!(latencyMs >= 0 && latencyMs <= 600_000))
      throw new Error(`fault latencyMs must be between 0 and 600000, got ${String(input.latencyMs)}`);
    if (errorRate === 0 && failNext === 0 && latencyMs === 0) throw new Error('a fault needs errorRate, failNext or latencyMs');
    if (input.connection !== undefined && input.connection !== 'reset' && input.connection !== 'timeout')
      throw new Error(`fault connection must be 'reset' or 'timeout', got ${String(input.connection)}`);
    const hangMs = input.hangMs ?? 20_000;
    if (!(hangMs >= 0 && hangMs <= 600_000)) throw new Error(`fault hangMs must be between 0 and 600000, got ${String(input.hangMs)}`);
    const rule: FaultRule = {
      id: randomUUID(),
      service: input.service ?? '*',
      operation: input.operation,
      method: input.method?.toUpperCase(),
      ...(input.principal ? { principal: input.principal.toLowerCase() } : {}),
      status,
      code: input.code,
      message: input.message,
      errorRate,
      failNext,
      latencyMs,
      retryAfterSeconds: input.retryAfterSeconds,
      ...(input.connection ? { connection: input.connection, ...(input.connection === 'timeout' ? { hangMs } : {}) } : {}),
      matched: 0,
      failed: 0,
    };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  hasPrincipalRules(): boolean {
    return this.rules.some((r) => r.principal !== undefined);
  }

  /**
   * Before authentication (`principalRules` false) only rules without a principal apply; after it (`true`) only the
   * rules for that principal.
   */
  decide(service: string, operation: string, method: string, principal?: string, principalRules = false): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    for (const rule of this.rules) {
      if ((rule.principal !== undefined) !== principalRules) continue;
      if (rule.service !== '*' && rule.service !== service) continue;
      if (rule.method && rule.method !== method.toUpperCase()) continue;
      if (rule.principal && rule.principal !== principal?.toLowerCase()) continue;
      if (rule.operation && !globMatch(rule.operation, operation)) continue;
      rule.matched++;
      decision.latencyMs += rule.latencyMs;
      if (decision.fail) continue;
      let fail = false;
      if (rule.failNext > 0) {
        rule.failNext--;
        fail = true;
      } else if (rule.errorRate > 0 && this.random() < rule.errorRate) {
        fail = true;
      }
      if (fail) {
        rule.failed++;
        decision.fail = {
          status: rule.status,
          code: rule.code,
          message: rule.message,
          retryAfterSeconds: rule.retryAfterSeconds,
          ruleId: rule.id,
          ...(rule.connection ? { dropAfterMs: rule.connection === 'timeout' ? (rule.hangMs ?? 20_000) : 0 } : {}),
        };
      }
    }
    return decision;
  }
}

export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(value);
}
