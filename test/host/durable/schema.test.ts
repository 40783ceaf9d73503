// The out-of-proc schema the engine advertises (V3, as the bundled Durable extension) and what follows from it:
// every orchestrator trigger says `upperSchemaVersionNew: 2`, and LockEntities / ReleaseEntities actions — which a
// V3 extension does not know — fail the orchestration with the extension's own message.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationInput } from '../../../local/host/contract';
import { startHarness, type Harness } from './harness';

const appDir = path.resolve(__dirname, '../../apps/durable-basic');
let h: Harness;
const triggers: Record<string, unknown>[] = [];

beforeAll(async () => {
  h = await startHarness(appDir);
  const invoke = h.runtime.invoke.bind(h.runtime);
  // Stand in for an orchestrator that emits raw actions (the library itself refuses lock at V3 before emitting one).
  h.runtime.invoke = async (name: string, input: InvocationInput) => {
    if (name === 'Sequence') triggers.push(JSON.parse(input.triggerData.string!) as Record<string, unknown>);
    const raw = rawActions[String((triggers.at(-1) as { instanceId?: string } | undefined)?.instanceId)];
    if (name === 'Sequence' && raw)
      return { returnValue: { json: JSON.stringify({ isDone: false, actions: [raw], schemaVersion: 3 }) }, outputData: {} };
    return invoke(name, input);
  };
});
afterAll(async () => {
  await h?.stop();
});

const rawActions: Record<string, unknown[]> = {
  'raw-lock': [{ actionType: 13, lockRequestId: '5b0d1d0e-0000-4000-8000-000000000001', lockSet: [{ name: 'counter', key: 'k' }] }],
  'raw-release': [{ actionType: 14 }],
};

describe('OOProc schema V3', () => {
  it('advertises upperSchemaVersion 1 and upperSchemaVersionNew 2 in the orchestrator trigger', async () => {
    const res = await h.api('POST', '/durabletask/orchestrators/Sequence/plain-run', '');
    expect(res.status).toBe(202);
    expect((await h.waitFor('plain-run')).status).toBe('Completed');
    expect(triggers[0]).toMatchObject({ upperSchemaVersion: 1, upperSchemaVersionNew: 2 });
  });

  it.each([
    ['raw-lock', 13],
    ['raw-release', 14],
  ])('%s: action type %i fails the orchestration with the extension message', async (instanceId, type) => {
    await h.api('POST', `/durabletask/orchestrators/Sequence/${instanceId}`, '');
    const inst = await h.waitFor(instanceId);
    expect(inst.status).toBe('Failed');
    expect(JSON.parse(inst.output!)).toBe(
      `Orchestrator function 'Sequence' failed: Received an unexpected action type from the out-of-proc function: '$${type}'.`,
    );
  });
});
