/**
 * The Durable HTTP API (HttpApiHandler.cs semantics): served under /runtime/webhooks/durabletask/ (system key
 * required when keys are on) and under /durabletask/, the client's rpcBaseUrl (local listener, no key).
 */
import type { HostHttpRequest, HostHttpResponse } from '../contract';
import { StartConflictError, UnknownFunctionError, DurableDispatcher, entitySchedulerId } from './engine';
import { EVENT_TYPE_NAMES, EventType, parseJsonText, statusTime } from './history';
import { InstanceRow, RuntimeStatus, TERMINAL_STATUSES } from './store';

export const WEBHOOK_PREFIX = '/runtime/webhooks/durabletask/';
export const RPC_PREFIX = '/durabletask/';
/** Largest request body accepted, as the Functions host (100 MB → 413). */
const MAX_BODY_BYTES = 100 * 1024 * 1024;

export interface HttpApiOptions {
  dispatcher: DurableDispatcher;
  baseUrl(): string;
  hubName: string;
  systemKey?: string;
  /** Check the system key on /runtime/webhooks/durabletask here (off when the host's router already does). */
  enforceKey?: boolean;
}

const RUNNING_LIKE: ReadonlySet<RuntimeStatus> = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);

function json(status: number, body: unknown, headers: Record<string, string> = {}): HostHttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}
function text(status: number, message: string): HostHttpResponse {
  return json(status, { Message: message });
}

function header(req: HostHttpRequest, name: string): string | undefined {
  const v = req.headers[name] ?? req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function bool(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  return v.toLowerCase() === 'true';
}

/** Parses a JSON request body; empty → null. */
function parseBody(req: HostHttpRequest): { ok: true; text: string | null } | { ok: false; response: HostHttpResponse } {
  if (req.body.length > MAX_BODY_BYTES) return { ok: false, response: text(413, `Request body is larger than ${MAX_BODY_BYTES} bytes.`) };
  const raw = req.body.toString('utf8');
  if (raw.trim() === '') return { ok: true, text: null };
  try {
    JSON.parse(raw);
    return { ok: true, text: raw };
  } catch {
    return { ok: false, response: text(400, 'The request body is not valid JSON.') };
  }
}

export class DurableHttpApi {
  constructor(private readonly o: HttpApiOptions) {}

  private webhookBase(): string {
    return `${this.o.baseUrl()}/runtime/webhooks/durabletask`;
  }
  private query(): string {
    return (
      `taskHub=${encodeURIComponent(this.o.hubName)}&` +
      `connection=Storage${this.o.systemKey ? `&code=${encodeURIComponent(this.o.systemKey)}` : ''}`
    );
  }

  /** The JSON string a `durableClient` input binding carries (BindingHelper.cs). */
  clientInputValue(): string {
    const base = this.webhookBase();
    const q = this.query();
    return JSON.stringify({
      taskHubName: this.o.hubName,
      creationUrls: {
        createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${q}`,
        createAndWaitOnNewInstancePostUri:
          `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}` + `&pollingInterval={intervalInSeconds}&${q}`,
      },
      managementUrls: this.managementUrls('INSTANCEID'),
      baseUrl: base,
      requiredQueryStringParameters: this.o.systemKey ? `code=${encodeURIComponent(this.o.systemKey)}` : '',
      rpcBaseUrl: `${this.o.baseUrl()}${RPC_PREFIX}`,
    });
  }

  managementUrls(instanceId: string): Record<string, string> {
    const base = `${this.webhookBase()}/instances/${encodeURIComponent(instanceId)}`;
    const q = this.query();
    return {
      id: instanceId,
      statusQueryGetUri: `${base}?${q}`,
      sendEventPostUri: `${base}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${base}/terminate?reason={text}&${q}`,
      rewindPostUri: `${base}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${base}?${q}`,
      restartPostUri: `${base}/restart?${q}`,
      suspendPostUri: `${base}/suspend?reason={text}&${q}`,
      resumePostUri: `${base}/resume?reason={text}&${q}`,
    };
  }

  private checkStatusPayload(instanceId: string): HostHttpResponse {
    const urls = this.managementUrls(instanceId);
    return json(202, urls, { Location: urls.statusQueryGetUri, 'Retry-After': '10' });
  }

  async handle(req: HostHttpRequest): Promise<HostHttpResponse | undefined> {
    const url = new URL(req.url, 'http://local');
    let rest: string;
    if (url.pathname.startsWith(WEBHOOK_PREFIX)) {
      rest = url.pathname.slice(WEBHOOK_PREFIX.length);
      if (this.o.systemKey && this.o.enforceKey) {
        const key = url.searchParams.get('code') ?? header(req, 'x-functions-key');
        if (key !== this.o.systemKey)
          return text(401, 'A valid durabletask extension system key is required (code query parameter or x-functions-key header).');
      }
    } else if (url.pathname.startsWith(RPC_PREFIX)) {
      rest = url.pathname.slice(RPC_PREFIX.length);
    } else {
      return undefined;
    }
    const segments = rest.split('/').map((s) => decodeURIComponent(s));
    if (segments.at(-1) === '' && segments.length > 1) segments.pop();
    const method = req.method.toUpperCase();
    try {
      return await this.route(method, segments, url.searchParams, req);
    } catch (err) {
      // Never crash on a request: report what went wrong (no secrets are involved here).
      return text(500, err instanceof Error ? err.message : String(err));
    }
  }

  private async route(method: string, s: string[], q: URLSearchParams, req: HostHttpRequest): Promise<HostHttpResponse> {
    const d = this.o.dispatcher;
    if (s[0] === 'orchestrators' && s.length >= 2 && s.length <= 3) {
      if (method !== 'POST') return text(405, `Method ${method} is not allowed on orchestrators/.`);
      return this.startNew(s[1], s[2], q, req);
    }
    if (s[0] === 'instances') {
      if (s.length === 1 || (s.length === 2 && s[1] === '')) {
        if (method === 'GET') return this.list(q, req);
        if (method === 'DELETE') return this.purgeBy(q);
        return text(405, `Method ${method} is not allowed on instances/.`);
      }
      const id = s[1];
      if (s.length === 2) {
        if (method === 'GET') return this.status(id, q);
        if (method === 'DELETE') {
          const inst = d.getInstance(id);
          if (!inst) return text(404, `No instance with ID '${id}' found.`);
          d.purge(id);
          return json(200, { instancesDeleted: 1 });
        }
        return text(405, `Method ${method} is not allowed on instances/{id}.`);
      }
      const inst = d.getInstance(id);
      const op = s[2];
      if (method !== 'POST') return text(405, `Method ${method} is not allowed on instances/{id}/${op}.`);
      if (op === 'raiseEvent' && s.length === 4) {
        const contentType = header(req, 'content-type') ?? '';
        if (!contentType.toLowerCase().startsWith('application/json'))
          return text(400, "'application/json' is the only supported content type.");
        const body = parseBody(req);
        if (!body.ok) return body.response;
        if (!inst) return text(404, `No instance with ID '${id}' found.`);
        if (TERMINAL_STATUSES.has(inst.status))
          return text(410, `The instance '${id}' is in the ${inst.status} state and cannot receive events.`);
        d.raiseEvent(id, s[3], body.text);
        return { status: 202 };
      }
      if ((op === 'terminate' || op === 'suspend' || op === 'resume') && s.length === 3) {
        if (!inst) return text(404, `No instance with ID '${id}' found.`);
        if (TERMINAL_STATUSES.has(inst.status)) return text(410, `The instance '${id}' is already ${inst.status}.`);
        d.control(id, op, q.get('reason') ?? '');
        return { status: 202 };
      }
      if (op === 'rewind' && s.length === 3) {
        if (!inst) return text(404, `No instance with ID '${id}' found.`);
        return text(501, 'Rewind is not supported by the local host.');
      }
      if (op === 'restart' && s.length === 3) {
        if (!inst) return text(404, `No instance with ID '${id}' found.`);
        const newId = bool(q, 'restartWithNewInstanceId', true) ? undefined : id;
        try {
          const started = d.startOrchestration({ name: inst.name, instanceId: newId, input: inst.input });
          return this.checkStatusPayload(started);
        } catch (err) {
          if (err instanceof StartConflictError) return text(400, err.message);
          throw err;
        }
      }
      return text(404, `Unknown durable operation '${op}'.`);
    }
    if (s[0] === 'entities' && s.length >= 2) {
      const name = s[1];
      if (s.length === 2) {
        if (method !== 'GET') return text(405, `Method ${method} is not allowed on entities/{name}.`);
        const top = Math.max(1, Math.min(1000, Number(q.get('top') ?? 100) || 100));
        const token = header(req, 'x-ms-continuation-token');
        const after = token ? Buffer.from(token, 'base64').toString('utf8') : '';
        const rows = d.store.listEntities(name.toLowerCase(), after, top).filter((e) => e.exists);
        const headers: Record<string, string> = {};
        if (rows.length === top) headers['x-ms-continuation-token'] = Buffer.from(rows.at(-1)!.id).toString('base64');
        return json(
          200,
          rows.map((e) => ({
            entityId: { name: e.name, key: e.key },
            lastOperationTime: statusTime(e.updatedAt),
            state: parseJsonText(e.state),
          })),
          headers,
        );
      }
      const key = s.slice(2).join('/');
      if (method === 'GET') {
        const entity = d.store.getEntity(entitySchedulerId(name, key));
        if (!entity || !entity.exists) return text(404, `Entity '@${name}@${key}' does not exist.`);
        return json(200, parseJsonText(entity.state));
      }
      if (method === 'POST' || method === 'DELETE') {
        const op = method === 'DELETE' ? 'delete' : q.get('op');
        if (!op) return text(400, "The 'op' query parameter is required to signal an entity.");
        const body = parseBody(req);
        if (!body.ok) return body.response;
        d.signalEntity(name, key, op, body.text ?? undefined);
        return { status: 202 };
      }
      return text(405, `Method ${method} is not allowed on entities/{name}/{key}.`);
    }
    return text(404, `No durable API route matches '${s.join('/')}'.`);
  }

  private async startNew(fn: string, instanceId: string | undefined, q: URLSearchParams, req: HostHttpRequest): Promise<HostHttpResponse> {
    const body = parseBody(req);
    if (!body.ok) return body.response;
    if (instanceId !== undefined && (instanceId === '' || /[/\\#?]/.test(instanceId) || instanceId.length > 256)) {
      return text(400, 'One or more of the arguments submitted is incorrect: invalid instance id.');
    }
    let id: string;
    try {
      id = this.o.dispatcher.startOrchestration({ name: fn, instanceId, input: body.text });
    } catch (err) {
      if (err instanceof UnknownFunctionError) return text(400, `One or more of the arguments submitted is incorrect: ${err.message}`);
      if (err instanceof StartConflictError) return text(400, err.message);
      throw err;
    }
    const timeout = q.get('timeout');
    if (timeout !== null) {
      const seconds = Number(timeout);
      if (!(seconds >= 0)) return text(400, `timeout must be a number of seconds, got '${timeout}'.`);
      await this.o.dispatcher.waitForTerminal(id, seconds * 1000);
      const inst = this.o.dispatcher.getInstance(id);
      if (inst && inst.status === 'Completed') return json(200, parseJsonText(inst.output));
      if (inst && TERMINAL_STATUSES.has(inst.status)) return json(200, this.statusPayload(inst, new URLSearchParams()));
    }
    return this.checkStatusPayload(id);
  }

  statusPayload(inst: InstanceRow, q: URLSearchParams): Record<string, unknown> {
    const payload: Record<string, unknown> = {
      name: inst.name,
      instanceId: inst.id,
      runtimeStatus: inst.status,
      input: bool(q, 'showInput', true) ? parseJsonText(inst.input) : null,
      customStatus: parseJsonText(inst.customStatus),
      output: parseJsonText(inst.output),
      createdTime: statusTime(inst.createdAt),
      lastUpdatedTime: statusTime(inst.updatedAt),
    };
    if (bool(q, 'showHistory', false)) {
      // The extension sends `historyEvents`; durable-functions 3 reads `history`. Send both so getStatus works.
      payload.historyEvents = this.historyView(inst.id, bool(q, 'showHistoryOutput', false));
      payload.history = payload.historyEvents;
    }
    return payload;
  }

  /** History as the status API shows it: scheduling events folded into their completions. */
  private historyView(instanceId: string, showOutput: boolean): unknown[] {
    const events = this.o.dispatcher.store.history(instanceId);
    const scheduled = new Map<number, any>();
    const out: unknown[] = [];
    for (const e of events) {
      if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
      if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated) {
        scheduled.set(e.EventId, e);
        continue;
      }
      const v: Record<string, unknown> = {
        EventType: EVENT_TYPE_NAMES[e.EventType] ?? String(e.EventType),
        EventId: e.EventId,
        Timestamp: e.Timestamp,
      };
      const source = scheduled.get((e.TaskScheduledId as number) ?? -2);
      if (e.Name !== undefined) v[e.EventType === EventType.EventRaised ? 'Name' : 'FunctionName'] = e.Name;
      if (source) {
        v.FunctionName = source.Name;
        v.ScheduledTime = source.Timestamp;
        v.TaskScheduledId = e.TaskScheduledId;
        if (source.InstanceId) v.InstanceId = source.InstanceId;
      }
      if (e.TimerId !== undefined) v.TimerId = e.TimerId;
      if (e.FireAt !== undefined) v.FireAt = e.FireAt;
      if (e.OrchestrationStatus !== undefined) v.OrchestrationStatus = e.OrchestrationStatus;
      if (e.Reason !== undefined) v.Reason = e.Reason;
      if (e.EventType === EventType.EventSent) v.InstanceId = e.InstanceId;
      if (showOutput && e.Result !== undefined) v.Result = parseJsonText(e.Result as string);
      if (showOutput && e.EventType === EventType.EventRaised) v.Input = parseJsonText(e.Input as string);
      out.push(v);
    }
    return out;
  }

  private status(id: string, q: URLSearchParams): HostHttpResponse {
    const inst = this.o.dispatcher.getInstance(id);
    if (!inst) return { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '' };
    const payload = this.statusPayload(inst, q);
    if (RUNNING_LIKE.has(inst.status)) {
      return json(202, payload, { Location: this.managementUrls(id).statusQueryGetUri, 'Retry-After': '5' });
    }
    if (inst.status === 'Failed' && bool(q, 'returnInternalServerErrorOnFailure', false)) return json(500, payload);
    return json(200, payload);
  }

  private parseStatuses(q: URLSearchParams): RuntimeStatus[] | undefined | Error {
    const raw = q.get('runtimeStatus');
    if (!raw) return undefined;
    const out: RuntimeStatus[] = [];
    for (const part of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const match = DurableDispatcher.statuses.find((s) => s.toLowerCase() === part.toLowerCase());
      if (!match) return new Error(`Unknown runtimeStatus '${part}'.`);
      out.push(match);
    }
    return out;
  }

  private parseTime(q: URLSearchParams, name: string): number | undefined | Error {
    const raw = q.get(name);
    if (!raw) return undefined;
    const t = Date.parse(raw);
    return Number.isNaN(t) ? new Error(`${name} is not a valid date: '${raw}'.`) : t;
  }

  private list(q: URLSearchParams, req: HostHttpRequest): HostHttpResponse {
    const statuses = this.parseStatuses(q);
    const from = this.parseTime(q, 'createdTimeFrom');
    const to = this.parseTime(q, 'createdTimeTo');
    for (const v of [statuses, from, to]) if (v instanceof Error) return text(400, v.message);
    const top = Math.max(1, Math.min(1000, Number(q.get('top') ?? 100) || 100));
    const token = header(req, 'x-ms-continuation-token');
    const after = token ? Buffer.from(token, 'base64').toString('utf8') : undefined;
    const rows = this.o.dispatcher.store.listInstances({
      statuses: statuses as RuntimeStatus[] | undefined,
      createdFrom: from as number | undefined,
      createdTo: to as number | undefined,
      prefix: q.get('instanceIdPrefix') ?? undefined,
      after,
      top: top + 1,
    });
    const page = rows.slice(0, top);
    const headers: Record<string, string> = {};
    if (rows.length > top) headers['x-ms-continuation-token'] = Buffer.from(page.at(-1)!.id).toString('base64');
    return json(
      200,
      page.map((r) => this.statusPayload(r, q)),
      headers,
    );
  }

  private purgeBy(q: URLSearchParams): HostHttpResponse {
    const statuses = this.parseStatuses(q);
    const from = this.parseTime(q, 'createdTimeFrom');
    const to = this.parseTime(q, 'createdTimeTo');
    for (const v of [statuses, from, to]) if (v instanceof Error) return text(400, v.message);
    if (from === undefined) return text(400, 'createdTimeFrom is required to purge instance history by filter.');
    const rows = this.o.dispatcher.store.listInstances({
      statuses: statuses as RuntimeStatus[] | undefined,
      createdFrom: from as number,
      createdTo: to as number | undefined,
      top: 1_000_000,
    });
    let deleted = 0;
    for (const r of rows) if (this.o.dispatcher.purge(r.id)) deleted++;
    if (deleted === 0) return text(404, 'No instances matched the purge filter.');
    return json(200, { instancesDeleted: deleted });
  }
}
