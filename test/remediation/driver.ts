/**
 * Runs generator orchestrators the way the Durable replay does, without a host: each yielded task
 * is executed (activities through the real `createRemediationActivities` over the fake Azure,
 * sub-orchestrations recursively, timers by advancing a virtual clock) and its result fed back.
 * Everything that would land in durable history (inputs, outputs, custom status) is recorded so
 * tests can scan it for secrets.
 */
import type { OrchestrationContext } from 'durable-functions';
import { createHash } from 'node:crypto';

type Orchestrator = (context: OrchestrationContext) => Generator<unknown, unknown, unknown>;
type ActivityImpl = (input: unknown) => Promise<unknown>;

interface TaskLike {
  kind: 'activity' | 'sub' | 'timer';
  name?: string;
  input?: unknown;
  fireAt?: Date;
}

export interface DriverOptions {
  orchestrators: Record<string, Orchestrator>;
  activities: Record<string, ActivityImpl>;
  start?: Date;
}

export class Driver {
  now: Date;
  readonly history: Array<{ instanceId: string; kind: string; name?: string; payload: unknown }> = [];
  readonly statuses: Array<{ instanceId: string; status: unknown }> = [];
  readonly timers: Array<{ instanceId: string; fireAt: string }> = [];
  readonly activityCalls: Array<{ name: string; input: unknown }> = [];
  private subCounter = 0;
  /** Called when a durable timer fires (the world may change while a run waits). */
  onTimer?: (fireAt: Date) => void;

  constructor(private readonly options: DriverOptions) {
    this.now = options.start ?? new Date('2026-11-27T10:00:00Z');
  }

  async run(name: string, input: unknown, instanceId = `test-${name}`): Promise<unknown> {
    let currentInput = input;
    for (let execution = 0; execution < 1000; execution++) {
      let continued: { input: unknown } | undefined;
      const orchestrator = this.options.orchestrators[name];
      if (!orchestrator) throw new Error(`no orchestrator ${name}`);
      let guid = 0;
      const now = () => new Date(this.now);
      const record = (status: unknown) => this.statuses.push({ instanceId, status: structuredClone(status) });
      const context = {
        df: {
          instanceId,
          get currentUtcDateTime() {
            return now();
          },
          getInput: () => structuredClone(currentInput),
          setCustomStatus: record,
          // Like durable-functions: seed, orchestration time and a per-execution counter, so a later run differs.
          newGuid: (seed: string) =>
            createHash('sha1')
              .update(`${seed}|${now().valueOf()}|${guid++}`)
              .digest('hex')
              .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
          callActivity: (n: string, i?: unknown): TaskLike => ({ kind: 'activity', name: n, input: i }),
          callActivityWithRetry: (n: string, _retry: unknown, i?: unknown): TaskLike => ({ kind: 'activity', name: n, input: i }),
          callSubOrchestrator: (n: string, i?: unknown): TaskLike => ({ kind: 'sub', name: n, input: i }),
          createTimer: (fireAt: Date): TaskLike => ({ kind: 'timer', fireAt }),
          continueAsNew: (i: unknown) => {
            continued = { input: structuredClone(i) };
          },
        },
      } as unknown as OrchestrationContext;
      this.history.push({ instanceId, kind: 'input', name, payload: structuredClone(currentInput) });
      const gen = orchestrator(context);
      let next = gen.next();
      while (!next.done) {
        const task = next.value as TaskLike;
        let result: unknown;
        let failure: unknown;
        try {
          result = await this.execute(task, instanceId);
        } catch (error) {
          failure = error;
        }
        next = failure === undefined ? gen.next(result) : gen.throw(failure);
      }
      this.history.push({ instanceId, kind: 'output', name, payload: structuredClone(next.value) });
      if (!continued) return next.value;
      currentInput = continued.input;
    }
    throw new Error('too many executions');
  }

  private async execute(task: TaskLike, instanceId: string): Promise<unknown> {
    if (task.kind === 'timer') {
      this.timers.push({ instanceId, fireAt: task.fireAt!.toISOString() });
      if (task.fireAt!.getTime() > this.now.getTime()) this.now = new Date(task.fireAt!);
      this.onTimer?.(task.fireAt!);
      return undefined;
    }
    if (task.kind === 'sub') {
      return this.run(task.name!, task.input, `${instanceId}:sub${this.subCounter++}`);
    }
    const impl = this.options.activities[task.name!];
    if (!impl) throw new Error(`no activity ${task.name}`);
    this.activityCalls.push({ name: task.name!, input: structuredClone(task.input) });
    this.history.push({ instanceId, kind: 'activity-input', name: task.name, payload: structuredClone(task.input) });
    const output = await impl(structuredClone(task.input));
    this.history.push({ instanceId, kind: 'activity-output', name: task.name, payload: structuredClone(output) });
    return structuredClone(output);
  }
}
