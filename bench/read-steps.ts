/**
 * Attributes the app's accepted ARM reads to the step of the pipeline that made them, from the simulator's request log
 * (operation, path, time) alone. Pure: the pipeline benchmark feeds it the app's ARM entries and prints reads per VM per step.
 *
 * A VM read (`Microsoft.Compute/virtualMachines/read` on one VM) is placed on that VM's own timeline:
 *  - before the app's first extension PUT on the VM: `inspect` (the event's re-read and the run's inspection);
 *  - between the extension PUT and the app's model PATCH (aad) or at any time after the PUT (single-pass, where waiting and
 *    verifying are one loop): `wait for secret`;
 *  - after the model PATCH (aad): `verify`.
 * Long-running-operation status reads (`locations/operations`, `operationresults`) are `LRO status`; everything else
 * (vaults, event subscriptions, resource groups, role assignments) is shared set-up, `vault and events`. Resource Graph
 * queries are POSTs with their own quota, never ARM reads, and are not counted here.
 */

export interface ArmLogEntry {
  time: string;
  operation: string;
  method: string;
  path: string;
  status: number;
}

export const READ_STEPS = ['inspect', 'wait for secret', 'verify', 'LRO status', 'vault and events'] as const;
export type ReadStep = (typeof READ_STEPS)[number];

function vmOf(path: string): string | undefined {
  return /\/virtualMachines\/([^/?]+)/i.exec(path)?.[1]?.toLowerCase();
}

function isWrite(e: ArmLogEntry): boolean {
  return e.method !== 'GET' && e.method !== 'HEAD' && e.method !== 'DELETE';
}

/** Accepted (non-429, < 400) ARM reads of the app per step; entries may come in any order. */
export function readsByStep(entries: readonly ArmLogEntry[]): Record<ReadStep, number> {
  const out = Object.fromEntries(READ_STEPS.map((s) => [s, 0])) as Record<ReadStep, number>;
  const firstExtensionPut = new Map<string, number>();
  const modelPatch = new Map<string, number>();
  for (const e of entries) {
    if (e.status >= 400 || !isWrite(e)) continue;
    const vm = vmOf(e.path);
    if (!vm) continue;
    const t = Date.parse(e.time);
    if (/\/extensions\//i.test(e.path)) {
      if (!firstExtensionPut.has(vm) || t < firstExtensionPut.get(vm)!) firstExtensionPut.set(vm, t);
    } else if (e.method === 'PATCH' && (!modelPatch.has(vm) || t < modelPatch.get(vm)!)) modelPatch.set(vm, t);
  }
  for (const e of entries) {
    if (e.status >= 400 || (e.method !== 'GET' && e.method !== 'HEAD')) continue;
    const op = e.operation.toLowerCase();
    if (/\/locations\/[^/]+\/(operations|operationresults|operationsstatus)\//i.test(e.path) || /\/operationresults\//i.test(e.path)) {
      out['LRO status'] += 1;
      continue;
    }
    const vm = vmOf(e.path);
    if (vm && op === 'microsoft.compute/virtualmachines/read') {
      const t = Date.parse(e.time);
      const put = firstExtensionPut.get(vm);
      const patch = modelPatch.get(vm);
      if (put === undefined || t < put) out.inspect += 1;
      else if (patch !== undefined && t >= patch) out.verify += 1;
      else out['wait for secret'] += 1;
      continue;
    }
    out['vault and events'] += 1;
  }
  return out;
}

/** The least time, in seconds, a token bucket of `bucketSize` refilling at `refillPerSecond` allows for `calls` calls. */
export function bucketFloorS(calls: number, limit: { bucketSize: number; refillPerSecond: number }): number {
  return Math.max(0, calls - limit.bucketSize) / limit.refillPerSecond;
}
