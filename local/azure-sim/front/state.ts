/**
 * State registry: every part registers snapshot/restore/reset so the control API can snapshot and
 * reset the whole simulator, and so state persists under --state between runs.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StateRegistry } from '../contract';

export interface StatePart {
  snapshot(): unknown;
  restore(value: unknown): void;
  reset(): void;
}

export class SimState implements StateRegistry {
  private readonly parts = new Map<string, StatePart>();

  register(name: string, part: StatePart): void {
    if (this.parts.has(name)) throw new Error(`state part '${name}' is already registered`);
    this.parts.set(name, part);
  }

  names(): string[] {
    return [...this.parts.keys()];
  }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, part] of this.parts) out[name] = part.snapshot();
    return out;
  }

  /** Restores the parts present in the snapshot; parts absent from it are reset. */
  restore(snapshot: Record<string, unknown>): void {
    for (const [name, part] of this.parts) {
      if (Object.prototype.hasOwnProperty.call(snapshot, name)) part.restore(snapshot[name]);
      else part.reset();
    }
  }

  reset(): void {
    for (const part of this.parts.values()) part.reset();
  }
}

/** Persists snapshots as JSON under the state folder (atomic rename so a crash never leaves half a file). */
export class StateFile {
  readonly path: string;
  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.path = join(stateDir, 'state.json');
  }

  load(): Record<string, unknown> | undefined {
    if (!existsSync(this.path)) return undefined;
    const text = readFileSync(this.path, 'utf8');
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`state file ${this.path} is not valid JSON (${(err as Error).message}); move it away to start fresh`);
    }
  }

  save(snapshot: Record<string, unknown>): void {
    const tmp = `${this.path}.tmp`;
    // The state holds secret values and key material: owner-only.
    writeFileSync(tmp, JSON.stringify(snapshot), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
