/**
 * Durable store: one SQLite file (WAL) holding instances, their history, the message queue that drives
 * orchestrations/activities/entities, and entity state. Every engine step commits in one transaction, so a
 * process killed at any moment restarts from a consistent point (work not committed simply runs again).
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';
export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export interface InstanceRow {
  id: string;
  name: string;
  status: RuntimeStatus;
  /** JSON text of the input (as the status payload reports it). */
  input: string | null;
  output: string | null;
  customStatus: string | null;
  createdAt: number;
  updatedAt: number;
  parentId: string | null;
  parentTaskId: number | null;
  /** Engine bookkeeping (ids, retries, seen actions), JSON. */
  state: string;
}

export type MessageKind = 'orch' | 'activity' | 'entity';
export interface MessageRow {
  id: number;
  kind: MessageKind;
  target: string;
  payload: string;
  dueAt: number;
}
export interface NewMessage {
  kind: MessageKind;
  target: string;
  payload: unknown;
  dueAt: number;
}

export interface EntityRow {
  id: string;
  name: string;
  key: string;
  exists: boolean;
  state: string | null;
  lockOwner: string | null;
  updatedAt: number;
}

export interface ListFilter {
  statuses?: RuntimeStatus[];
  createdFrom?: number;
  createdTo?: number;
  prefix?: string;
  /** Continuation: the last id already returned. */
  after?: string;
  top: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT, custom_status TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, parent_id TEXT, parent_task_id INTEGER, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_at);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL, due_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_target ON messages(kind, target, id);
CREATE TABLE IF NOT EXISTS entities (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL, exists_ INTEGER NOT NULL, state TEXT, lock_owner TEXT,
  updated_at INTEGER NOT NULL
);
`;

function toInstance(r: any): InstanceRow {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    input: r.input,
    output: r.output,
    customStatus: r.custom_status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    parentId: r.parent_id,
    parentTaskId: r.parent_task_id,
    state: r.state,
  };
}
function toMessage(r: any): MessageRow {
  return { id: r.id, kind: r.kind, target: r.target, payload: r.payload, dueAt: r.due_at };
}
function toEntity(r: any): EntityRow {
  return { id: r.id, name: r.name, key: r.key, exists: r.exists_ === 1, state: r.state, lockOwner: r.lock_owner, updatedAt: r.updated_at };
}

export class DurableStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(stateDir: string) {
    fs.mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, 'durable.sqlite');
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process kill (only an OS crash can lose the last commits).
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      getInstance: db.prepare('SELECT * FROM instances WHERE id = ?'),
      insertInstance: db.prepare(`INSERT INTO instances
        (id, name, status, input, output, custom_status, created_at, updated_at, parent_id, parent_task_id, state)
        VALUES (@id, @name, @status, @input, @output, @customStatus, @createdAt, @updatedAt, @parentId, @parentTaskId, @state)`),
      updateInstance:
        db.prepare(`UPDATE instances SET name=@name, status=@status, input=@input, output=@output, custom_status=@customStatus,
        updated_at=@updatedAt, state=@state WHERE id=@id`),
      deleteInstance: db.prepare('DELETE FROM instances WHERE id = ?'),
      history: db.prepare('SELECT event FROM history WHERE instance_id = ? ORDER BY seq'),
      historyCount: db.prepare('SELECT COALESCE(MAX(seq), -1) + 1 AS n FROM history WHERE instance_id = ?'),
      appendHistory: db.prepare('INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)'),
      clearHistory: db.prepare('DELETE FROM history WHERE instance_id = ?'),
      insertMessage: db.prepare('INSERT INTO messages (kind, target, payload, due_at) VALUES (?, ?, ?, ?)'),
      deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
      deleteTargetMessages: db.prepare('DELETE FROM messages WHERE kind = ? AND target = ?'),
      messagesFor: db.prepare('SELECT * FROM messages WHERE kind = ? AND target = ? ORDER BY id'),
      allMessages: db.prepare('SELECT * FROM messages ORDER BY id'),
      getMessage: db.prepare('SELECT * FROM messages WHERE id = ?'),
      getEntity: db.prepare('SELECT * FROM entities WHERE id = ?'),
      upsertEntity: db.prepare(`INSERT INTO entities (id, name, key, exists_, state, lock_owner, updated_at)
        VALUES (@id, @name, @key, @exists, @state, @lockOwner, @updatedAt)
        ON CONFLICT(id) DO UPDATE SET exists_=@exists, state=@state, lock_owner=@lockOwner, updated_at=@updatedAt`),
      listEntities: db.prepare('SELECT * FROM entities WHERE name = ? AND id > ? ORDER BY id LIMIT ?'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction (all or nothing). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getInstance(id: string): InstanceRow | undefined {
    const r = this.stmts.getInstance.get(id);
    return r ? toInstance(r) : undefined;
  }
  insertInstance(row: InstanceRow): void {
    this.stmts.insertInstance.run(row);
  }
  updateInstance(row: InstanceRow): void {
    this.stmts.updateInstance.run(row);
  }
  /** Deletes the instance, its history and its pending orchestration messages. Returns whether it existed. */
  deleteInstance(id: string): boolean {
    const existed = this.stmts.deleteInstance.run(id).changes > 0;
    this.stmts.clearHistory.run(id);
    this.stmts.deleteTargetMessages.run('orch', id);
    return existed;
  }

  history(id: string): any[] {
    return (this.stmts.history.all(id) as { event: string }[]).map((r) => JSON.parse(r.event));
  }
  appendHistory(id: string, events: unknown[]): void {
    let seq = (this.stmts.historyCount.get(id) as { n: number }).n;
    for (const e of events) this.stmts.appendHistory.run(id, seq++, JSON.stringify(e));
  }
  clearHistory(id: string): void {
    this.stmts.clearHistory.run(id);
  }

  insertMessage(m: NewMessage): number {
    return Number(this.stmts.insertMessage.run(m.kind, m.target, JSON.stringify(m.payload), Math.floor(m.dueAt)).lastInsertRowid);
  }
  deleteMessage(id: number): boolean {
    return this.stmts.deleteMessage.run(id).changes > 0;
  }
  getMessage(id: number): MessageRow | undefined {
    const r = this.stmts.getMessage.get(id);
    return r ? toMessage(r) : undefined;
  }
  messagesFor(kind: MessageKind, target: string): MessageRow[] {
    return this.stmts.messagesFor.all(kind, target).map(toMessage);
  }
  deleteMessagesFor(kind: MessageKind, target: string): void {
    this.stmts.deleteTargetMessages.run(kind, target);
  }
  allMessages(): MessageRow[] {
    return this.stmts.allMessages.all().map(toMessage);
  }

  getEntity(id: string): EntityRow | undefined {
    const r = this.stmts.getEntity.get(id);
    return r ? toEntity(r) : undefined;
  }
  saveEntity(e: EntityRow): void {
    this.stmts.upsertEntity.run({ ...e, exists: e.exists ? 1 : 0 });
  }
  listEntities(name: string, after: string, top: number): EntityRow[] {
    return this.stmts.listEntities.all(name, after, top).map(toEntity);
  }

  listInstances(f: ListFilter): InstanceRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.statuses?.length) {
      where.push(`status IN (${f.statuses.map(() => '?').join(',')})`);
      args.push(...f.statuses);
    }
    if (f.createdFrom !== undefined) {
      where.push('created_at >= ?');
      args.push(f.createdFrom);
    }
    if (f.createdTo !== undefined) {
      where.push('created_at <= ?');
      args.push(f.createdTo);
    }
    if (f.prefix) {
      where.push('substr(id, 1, ?) = ?');
      args.push(f.prefix.length, f.prefix);
    }
    if (f.after !== undefined) {
      where.push('id > ?');
      args.push(f.after);
    }
    const sql = `SELECT * FROM instances ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    return this.db
      .prepare(sql)
      .all(...args, f.top)
      .map(toInstance);
  }
}
