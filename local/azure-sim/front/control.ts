/**
 * The control API on the loopback port (`/_sim/...`): health and env, the clock (read only), request log and
 * counts, fault injection, state snapshot/restore/reset/save, principals and managed identities,
 * Key Vault object control, and `/_sim/arm/**` forwarded to the Resource Manager part.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SimRequest, SimResponse } from '../contract';
import { SimError } from '../contract';
import type { EntraDirectory } from '../entra/directory';
import { keyCredentialFromCertificate } from '../entra/login';
import { GRAPH_APP_ROLES } from '../entra/directory';
import { builtInRoleByName } from '../arm/roles';
import type { RealClock } from './clock';
import type { FaultInjector, FaultInput } from './faults';
import type { ArmService } from './parts';
import type { RawResponse } from './pipeline';
import type { RequestLog } from './request-log';
import type { SimState, StateFile } from './state';

export interface ControlPart {
  handleControl(req: SimRequest): Promise<SimResponse | undefined>;
}

export interface ControlDeps {
  clock: RealClock;
  state: SimState;
  stateFile: StateFile;
  requestLog: RequestLog;
  faults: FaultInjector;
  directory: EntraDirectory;
  keyVault?: ControlPart;
  graph?: { handleControl(req: SimRequest): SimResponse | undefined };
  arm?: ArmService;
  seed: () => unknown;
  env: () => Record<string, string>;
  /** Snapshot that `reset` returns to (state right after seeding). */
  baseline?: () => Record<string, unknown>;
  mounted: () => Record<string, boolean>;
  serverStats?: () => Record<string, number>;
}

export class Control {
  constructor(private readonly deps: ControlDeps) {}

  async handle(raw: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }): Promise<RawResponse> {
    const requestId = randomUUID();
    const q = raw.url.indexOf('?');
    const path = (q >= 0 ? raw.url.slice(0, q) : raw.url).replace(/\/+$/, '') || '/';
    const query = new URLSearchParams(q >= 0 ? raw.url.slice(q + 1) : '');
    const req: SimRequest = {
      method: raw.method.toUpperCase(),
      host: '127.0.0.1',
      path,
      query,
      headers: raw.headers,
      body: raw.body,
      requestId,
    };
    let res: SimResponse;
    try {
      if (raw.body.length > 0) {
        try {
          req.json = JSON.parse(raw.body.toString('utf8'));
        } catch (err) {
          throw new SimError(400, 'InvalidJson', `The control request body is not JSON: ${(err as Error).message}`);
        }
      }
      res = await this.route(req);
    } catch (err) {
      if (err instanceof SimError)
        res = { status: err.status, headers: err.headers, body: { error: { code: err.code, message: err.message } } };
      else res = { status: 400, body: { error: { code: 'BadRequest', message: (err as Error).message } } };
    }
    const headers: Record<string, string> = { 'x-ms-request-id': requestId };
    for (const [k, v] of Object.entries(res.headers ?? {})) headers[k.toLowerCase()] = v;
    let body: Buffer;
    if (res.body === undefined) body = Buffer.alloc(0);
    else if (Buffer.isBuffer(res.body)) body = res.body;
    else if (typeof res.body === 'string') {
      body = Buffer.from(res.body);
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      body = Buffer.from(JSON.stringify(res.body));
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    return { status: res.status, headers, body };
  }

  private async route(req: SimRequest): Promise<SimResponse> {
    const { method, path } = req;
    const d = this.deps;
    if (!path.startsWith('/_sim'))
      throw new SimError(
        404,
        'NotFound',
        `No route for ${method} ${path}. The control API lives under /_sim/ (see local/azure-sim/README.md); ` +
          `Azure hosts are reached through the proxy.`,
      );
    const seg = path.split('/').filter(Boolean).slice(1);
    const [area, ...rest] = seg;
    const body = (req.json ?? {}) as Record<string, unknown>;
    switch (area) {
      case undefined:
      case 'health':
        return ok({
          status: 'ok',
          mounted: d.mounted(),
          server: d.serverStats?.(),
          speed: d.clock.speed,
          now: new Date(d.clock.now()).toISOString(),
          tenantId: d.directory.tenantId,
        });
      case 'env':
        return ok(d.env());
      case 'seed':
        return ok(d.seed());
      case 'time':
        // Read only: the clock is real time; there is no route that moves it.
        if (rest.length === 0 && method === 'GET') return ok(this.time());
        break;
      case 'requests':
        return this.requests(req, rest);
      case 'faults':
        return this.faults(req, rest, body);
      case 'state':
        return this.stateRoute(req, rest, body);
      case 'principals':
        return this.principals(req, rest, body);
      case 'managed-identities':
        if (method === 'POST') {
          const displayName = requireString(body, 'displayName');
          const resourceId =
            typeof body.resourceId === 'string'
              ? body.resourceId
              : `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/identities/providers/` +
                `Microsoft.ManagedIdentity/userAssignedIdentities/${displayName}`;
          const mi = d.directory.createManagedIdentity(displayName, resourceId);
          return {
            status: 201,
            body: { tenantId: d.directory.tenantId, clientId: mi.appId, principalId: mi.id, objectId: mi.id, resourceId },
          };
        }
        break;
      case 'keyvault': {
        if (!d.keyVault) throw new SimError(501, 'NotMounted', 'The Key Vault data plane is not mounted.');
        const res = await d.keyVault.handleControl(req);
        if (res) return res;
        break;
      }
      case 'graph': {
        const res = d.graph?.handleControl(req);
        if (res) return res;
        break;
      }
      case 'arm': {
        if (!d.arm) throw new SimError(501, 'NotMounted', "The simulator's Resource Manager part (local/azure-sim/arm) is not mounted.");
        const res = await d.arm.handleControl(req);
        if (res) return res;
        break;
      }
      default:
        break;
    }
    throw new SimError(404, 'NotFound', `No control route for ${method} ${path}.`);
  }

  private time() {
    const now = this.deps.clock.now();
    return { speed: this.deps.clock.speed, now: new Date(now).toISOString(), nowMs: now };
  }

  private requests(req: SimRequest, rest: string[]): SimResponse {
    const log = this.deps.requestLog;
    if (rest[0] === 'counts' && req.method === 'GET') return ok(log.getCounts());
    if (rest.length === 0 && req.method === 'DELETE') {
      log.clear();
      return { status: 204 };
    }
    if (rest.length === 0 && req.method === 'GET') {
      const num = (name: string) => {
        const v = req.query.get(name);
        if (v === null) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new SimError(400, 'BadRequest', `'${name}' must be a number, got '${v}'`);
        return n;
      };
      const entries = log.query({
        service: req.query.get('service') ?? undefined,
        operation: req.query.get('operation') ?? undefined,
        principal: req.query.get('principal') ?? undefined,
        status: num('status'),
        sinceSeq: num('since'),
        limit: num('limit'),
      });
      return ok({ lastSeq: log.lastSeq(), value: entries });
    }
    throw new SimError(404, 'NotFound', `No control route for ${req.method} ${req.path}.`);
  }

  private faults(req: SimRequest, rest: string[], body: Record<string, unknown>): SimResponse {
    const faults = this.deps.faults;
    if (rest.length === 0) {
      if (req.method === 'GET') return ok({ value: faults.list() });
      if (req.method === 'POST') return { status: 201, body: faults.add(body as FaultInput) };
      if (req.method === 'DELETE') {
        faults.clear();
        return { status: 204 };
      }
    }
    if (rest.length === 1 && req.method === 'DELETE') {
      if (!faults.remove(rest[0]!)) throw new SimError(404, 'NotFound', `No fault rule '${rest[0]}'.`);
      return { status: 204 };
    }
    throw new SimError(404, 'NotFound', `No control route for ${req.method} ${req.path}.`);
  }

  private stateRoute(req: SimRequest, rest: string[], body: Record<string, unknown>): SimResponse {
    const d = this.deps;
    if (req.method === 'GET' && rest.length === 0) return ok({ parts: d.state.names(), file: d.stateFile.path });
    if (req.method !== 'POST') throw new SimError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${req.path}.`);
    switch (rest[0]) {
      case 'snapshot':
        return ok(d.state.snapshot());
      case 'restore':
        if (typeof req.json !== 'object' || req.json === null)
          throw new SimError(400, 'BadRequest', 'POST /_sim/state/restore needs a snapshot object as the body.');
        d.state.restore(body);
        return ok({ restored: Object.keys(body) });
      case 'reset': {
        const baseline = d.baseline?.();
        if (baseline) d.state.restore(baseline);
        else d.state.reset();
        d.requestLog.clear();
        d.faults.clear();
        return ok({ reset: true });
      }
      case 'save':
        d.stateFile.save(d.state.snapshot());
        return ok({ saved: d.stateFile.path });
      default:
        throw new SimError(404, 'NotFound', `No control route for ${req.method} ${req.path}.`);
    }
  }

  /**
   * Grants for a new test principal, validated before anything is created. Omitted: an administrator (Owner of the
   * seeded subscription, Graph Application.ReadWrite.All); `[]`: nothing.
   */
  private requestedGrants(body: Record<string, unknown>): { roles: Record<string, unknown>[]; graphPermissions: string[] } {
    const subscriptionId = (this.deps.seed() as { subscriptionId: string }).subscriptionId;
    const roles = body.roles === undefined ? [{ roleName: 'Owner', scope: `/subscriptions/${subscriptionId}` }] : body.roles;
    const graphPermissions = body.graphPermissions === undefined ? ['Application.ReadWrite.All'] : body.graphPermissions;
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'object' || r === null))
      throw new SimError(400, 'BadRequest', "'roles' must be a list of { roleName, scope }.");
    for (const r of roles as Record<string, unknown>[]) {
      if (typeof r.roleName !== 'string' || !builtInRoleByName(r.roleName))
        throw new SimError(400, 'BadRequest', `roles: '${String(r.roleName).slice(0, 80)}' is not a built-in role the simulator knows.`);
      if (typeof r.scope !== 'string' || !/^\/subscriptions\/[0-9a-f-]{36}(\/|$)/i.test(r.scope))
        throw new SimError(400, 'BadRequest', `roles: scope '${String(r.scope).slice(0, 200)}' must be /subscriptions/{id}[/...].`);
    }
    if (!Array.isArray(graphPermissions) || graphPermissions.some((p) => typeof p !== 'string'))
      throw new SimError(400, 'BadRequest', "'graphPermissions' must be a list of Microsoft Graph application permission names.");
    const unknown = (graphPermissions as string[]).filter((v) => !GRAPH_APP_ROLES.some((r) => r.value.toLowerCase() === v.toLowerCase()));
    if (unknown.length > 0)
      throw new SimError(
        400,
        'BadRequest',
        `graphPermissions: unknown Microsoft Graph application permission '${unknown[0]!.slice(0, 80)}'.`,
      );
    // Resource Manager checks the rest (subscription exists) before anything is created.
    for (const r of roles as Record<string, unknown>[]) {
      try {
        this.deps.arm?.grantRole?.({ ...r, principalId: '' }, true);
      } catch (error) {
        throw new SimError(400, 'BadRequest', `roles: ${(error as Error).message}`);
      }
    }
    return { roles: roles as Record<string, unknown>[], graphPermissions: graphPermissions as string[] };
  }

  private principals(req: SimRequest, rest: string[], body: Record<string, unknown>): SimResponse {
    const dir = this.deps.directory;
    if (rest.length === 0 && req.method === 'GET') {
      return ok({
        value: [...dir.servicePrincipals.values()].map((sp) => ({
          objectId: sp.id,
          appId: sp.appId,
          displayName: sp.displayName,
          type: sp.servicePrincipalType,
          accountEnabled: sp.accountEnabled,
          passwordCredentials: dir.passwordsOf(sp.appId).map(({ secretHash: _hidden, ...rest }) => rest),
        })),
      });
    }
    if (rest.length === 0 && req.method === 'POST') {
      // Creates an application + service principal with a client secret (and optionally a certificate), like `az ad sp create-for-rbac`.
      const displayName = requireString(body, 'displayName');
      const { roles, graphPermissions } = this.requestedGrants(body);
      const app = dir.createApplication(displayName);
      const sp = dir.createServicePrincipal(app);
      const out: Record<string, unknown> = {
        tenantId: dir.tenantId,
        appId: app.appId,
        clientId: app.appId,
        objectId: sp.id,
        applicationObjectId: app.id,
        displayName,
      };
      if (body.secret !== false) {
        const { credential, secretText } = dir.addPassword(app, {
          displayName: 'azure-sim',
          startDateTime: optionalString(body, 'secretStartDateTime'),
          endDateTime: optionalString(body, 'secretEndDateTime'),
        });
        out.clientSecret = secretText;
        out.secretKeyId = credential.keyId;
        out.secretEndDateTime = credential.endDateTime;
      }
      if (typeof body.certificate === 'string') {
        const cred = keyCredentialFromCertificate(body.certificate, { keyId: randomUUID() });
        app.keyCredentials.push(cred);
        out.certificateThumbprint = cred.thumbprintSha1.toUpperCase();
      }
      for (const r of roles as Record<string, unknown>[]) {
        if (!this.deps.arm?.grantRole) continue; // no Resource Manager part: nothing to grant on
        this.deps.arm.grantRole({ ...r, principalId: sp.id });
      }
      dir.grantGraphPermissions(sp.id, graphPermissions);
      out.roles = roles;
      out.graphPermissions = graphPermissions;
      return { status: 201, body: out };
    }
    if (rest.length === 2 && rest[1] === 'graphPermissions' && req.method === 'PUT') {
      // Sets exactly these Microsoft Graph application permissions (tests; Graph's own POST appRoleAssignments needs an admin).
      const sp = dir.servicePrincipals.get(rest[0]!);
      if (!sp) throw new SimError(404, 'NotFound', `No service principal with object id '${rest[0]}'.`);
      const values = body.permissions;
      if (!Array.isArray(values) || values.some((v) => typeof v !== 'string'))
        throw new SimError(400, 'BadRequest', "'permissions' must be a list of Microsoft Graph application permission names.");
      for (const [id, a] of dir.appRoleAssignments) if (a.principalId === sp.id) dir.appRoleAssignments.delete(id);
      try {
        dir.grantGraphPermissions(sp.id, values as string[]);
      } catch (error) {
        throw new SimError(400, 'BadRequest', (error as Error).message);
      }
      return ok({ objectId: sp.id, permissions: dir.permissionsOf(sp.id) });
    }
    if (rest.length === 1 && req.method === 'PATCH') {
      const sp = dir.servicePrincipals.get(rest[0]!) ?? dir.servicePrincipalByAppId(rest[0]!);
      if (!sp) throw new SimError(404, 'NotFound', `No service principal with object or app id '${rest[0]}'.`);
      if (typeof body.accountEnabled === 'boolean') sp.accountEnabled = body.accountEnabled;
      return ok({ objectId: sp.id, appId: sp.appId, accountEnabled: sp.accountEnabled });
    }
    throw new SimError(404, 'NotFound', `No control route for ${req.method} ${req.path}.`);
  }
}

function ok(body: unknown): SimResponse {
  return { status: 200, body };
}

function requireString(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > 256)
    throw new SimError(400, 'BadRequest', `'${name}' is required (a string of 1-256 characters).`);
  return v;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new SimError(400, 'BadRequest', `'${name}' must be a string.`);
  return v;
}
