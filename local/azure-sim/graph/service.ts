/**
 * Microsoft Graph v1.0 (graph.microsoft.com): applications and service principals — create, get
 * (by id or by `(appId='…')`), list with `$filter` / `$top` / `$select` / paging, update, delete,
 * addPassword / removePassword with start and end dates, owners — over the Entra directory the
 * token endpoint signs principals in from. Graph's error envelope and per-app throttling.
 *
 * Follows https://learn.microsoft.com/graph/api/resources/application,
 * .../resources/serviceprincipal, .../application-addpassword, .../application-removepassword,
 * https://learn.microsoft.com/graph/errors and https://learn.microsoft.com/graph/throttling-limits.
 */
import { randomUUID } from 'node:crypto';
import type { Service, SimContext, SimRequest, SimResponse } from '../contract';
import { SimError } from '../contract';
import type {
  Application,
  AppRoleAssignment,
  EntraDirectory,
  KeyCredential,
  PasswordCredential,
  ServicePrincipal,
} from '../entra/directory';
import { keyCredentialFromCertificate } from '../entra/login';

const GRAPH_HOST = 'graph.microsoft.com';
const BASE = `https://${GRAPH_HOST}/v1.0`;
const MAX_TOP = 999;
const DEFAULT_TOP = 100;
const MAX_OWNERS = 100;

export interface GraphLimits {
  enabled: boolean;
  /** Resource units per app per tenant per window (3,500 per 10 s for a tenant under 50 users). */
  requestsPerWindow: number;
  windowMs: number;
  /** Writes per app per tenant per write window (3,000 per 2 min 30 s). */
  writesPerWindow: number;
  writeWindowMs: number;
}

export const DEFAULT_GRAPH_LIMITS: GraphLimits = {
  enabled: true,
  requestsPerWindow: 3500,
  windowMs: 10_000,
  writesPerWindow: 3000,
  writeWindowMs: 150_000,
};

type Entity = 'applications' | 'servicePrincipals';

export class GraphService implements Service {
  readonly name = 'graph';
  readonly requiresAuth = true;
  private limits: GraphLimits = { ...DEFAULT_GRAPH_LIMITS };
  private readonly windows = new Map<string, { start: number; count: number; writeStart: number; writes: number }>();

  constructor(
    private readonly ctx: SimContext,
    private readonly dir: EntraDirectory,
  ) {}

  matches(host: string): boolean {
    return host === GRAPH_HOST;
  }

  operationOf(req: SimRequest): string {
    const parts = this.parse(req.path);
    if (!parts) return `${req.method} ${req.path}`;
    const target = parts.id === undefined ? parts.entity : `${parts.entity}/{id}${parts.action ? `/${parts.action}` : ''}`;
    return `${req.method} ${target}`;
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const parts = this.parse(req.path);
    if (!parts)
      throw new SimError(
        400,
        'BadRequest',
        `Resource not found for the segment '${req.path.split('/').filter(Boolean).slice(1, 2).join('') || req.path}'.`,
      );
    if (req.principal!.tenantId.toLowerCase() !== this.dir.tenantId.toLowerCase())
      throw new SimError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid issuer.');
    this.throttle(req);
    const { entity, id, action, ownerRef } = parts;
    const m = req.method;
    const access = accessOf(req.principal!.roles ?? []);
    if (id === undefined) {
      if (m === 'GET') {
        if (!access.read && !access.ownedBy) throw insufficientPrivileges();
        return this.list(entity, req, access.read ? undefined : req.principal!.objectId);
      }
      if (m === 'POST') {
        if (!access.write && !access.ownedBy) throw insufficientPrivileges();
        return entity === 'applications' ? this.createApplication(req) : this.createServicePrincipal(req, access.write);
      }
      throw methodNotAllowed(m);
    }
    const obj = this.find(entity, id);
    if (action === 'ownedObjects' && entity === 'servicePrincipals') {
      if (m !== 'GET') throw methodNotAllowed(m);
      // Application.Read.All, or Application.ReadWrite.OwnedBy for the caller's own objects
      // (https://learn.microsoft.com/graph/api/serviceprincipal-list-ownedobjects).
      if (!access.read && !(access.ownedBy && obj.id === req.principal!.objectId)) throw insufficientPrivileges();
      return this.ownedObjects(obj as ServicePrincipal, req, parts.subId);
    }
    if (action === 'appRoleAssignments' && entity === 'servicePrincipals')
      return this.appRoleAssignments(obj as ServicePrincipal, req, parts.subId, access);
    // Application.ReadWrite.OwnedBy reaches only the objects the caller owns (https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby).
    const owned = obj.owners.includes(req.principal!.objectId);
    const reading = m === 'GET';
    if (!(reading ? access.read : access.write) && !(access.ownedBy && owned)) throw insufficientPrivileges();
    if (!action) {
      if (m === 'GET') return ok(this.view(entity, obj, req, true));
      if (m === 'PATCH') return this.update(entity, obj, req);
      if (m === 'DELETE') return this.remove(entity, obj);
      throw methodNotAllowed(m);
    }
    switch (action) {
      case 'addPassword':
        if (m !== 'POST') throw methodNotAllowed(m);
        return this.addPassword(obj, req);
      case 'removePassword':
        if (m !== 'POST') throw methodNotAllowed(m);
        return this.removePassword(obj, req);
      case 'owners':
        return this.owners(entity, obj, req, ownerRef);
      default:
        throw new SimError(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
    }
  }

  // ------------------------------------------------------------------ routing helpers

  private parse(path: string): { entity: Entity; id?: string; action?: string; ownerRef?: { id?: string }; subId?: string } | undefined {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (seg[0] !== 'v1.0') return undefined;
    const first = seg[1];
    if (!first) return undefined;
    const byAppId = /^(applications|servicePrincipals)\(appId='([^']+)'\)$/i.exec(first);
    let entity: Entity;
    let id: string | undefined;
    let rest: string[];
    if (byAppId) {
      entity = byAppId[1]!.toLowerCase() === 'applications' ? 'applications' : 'servicePrincipals';
      id = `appId:${byAppId[2]}`;
      rest = seg.slice(2);
    } else {
      const e = first.toLowerCase();
      if (e !== 'applications' && e !== 'serviceprincipals') return undefined;
      entity = e === 'applications' ? 'applications' : 'servicePrincipals';
      id = seg[2];
      rest = seg.slice(3);
    }
    const action = rest[0];
    // owners, owners/$ref, owners/{id}/$ref
    const ownerRef = action === 'owners' && rest.length > 1 ? { id: rest[1] === '$ref' ? undefined : rest[1] } : undefined;
    return { entity, id, action, ownerRef, subId: action === 'appRoleAssignments' || action === 'ownedObjects' ? rest[1] : undefined };
  }

  private find(entity: Entity, id: string): Application | ServicePrincipal {
    let obj: Application | ServicePrincipal | undefined;
    if (id.startsWith('appId:')) {
      const appId = id.slice('appId:'.length);
      obj = entity === 'applications' ? this.dir.applicationByAppId(appId) : this.dir.servicePrincipalByAppId(appId);
    } else {
      obj = entity === 'applications' ? this.dir.applications.get(id) : this.dir.servicePrincipals.get(id);
    }
    if (!obj)
      throw new SimError(
        404,
        'Request_ResourceNotFound',
        `Resource '${id.replace(/^appId:/, '')}' does not exist or one of its queried reference-property objects are not present.`,
      );
    return obj;
  }

  private throttle(req: SimRequest): void {
    if (!this.limits.enabled) return;
    const now = this.ctx.clock.now();
    const key = `${this.dir.tenantId}/${req.principal!.appId}`;
    let w = this.windows.get(key);
    if (!w) {
      w = { start: now, count: 0, writeStart: now, writes: 0 };
      this.windows.set(key, w);
    }
    if (now - w.start >= this.limits.windowMs) {
      w.start = now;
      w.count = 0;
    }
    if (now - w.writeStart >= this.limits.writeWindowMs) {
      w.writeStart = now;
      w.writes = 0;
    }
    const write = req.method !== 'GET';
    const over =
      ++w.count > this.limits.requestsPerWindow
        ? w.start + this.limits.windowMs
        : write && ++w.writes > this.limits.writesPerWindow
          ? w.writeStart + this.limits.writeWindowMs
          : 0;
    if (over) {
      const seconds = Math.max(1, Math.ceil((over - now) / 1000));
      throw new SimError(429, 'TooManyRequests', `Too many requests. Please retry after ${seconds} seconds.`, {
        'retry-after': String(seconds),
        'x-ms-throttle-scope': `Tenant_Application/${write ? 'ReadWrite' : 'Read'}/${this.dir.tenantId}/${req.principal!.appId}`,
        'x-ms-throttle-information': 'ResourceUnitLimitExceeded',
      });
    }
  }

  // ------------------------------------------------------------------ views

  private view(entity: Entity, obj: Application | ServicePrincipal, req: SimRequest, single: boolean): Record<string, unknown> {
    const full = entity === 'applications' ? this.applicationView(obj as Application) : this.servicePrincipalView(obj as ServicePrincipal);
    const selected = select(full, req.query.get('$select'));
    return single ? { '@odata.context': `${BASE}/$metadata#${entity}/$entity`, ...selected } : selected;
  }

  private applicationView(app: Application): Record<string, unknown> {
    return {
      id: app.id,
      deletedDateTime: null,
      appId: app.appId,
      createdDateTime: app.createdDateTime,
      displayName: app.displayName,
      description: app.description ?? null,
      notes: app.notes ?? null,
      publisherDomain: `${this.dir.tenantId.slice(0, 8)}.onmicrosoft.com`,
      signInAudience: app.signInAudience,
      tags: app.tags,
      identifierUris: [],
      keyCredentials: app.keyCredentials.map(keyView),
      passwordCredentials: app.passwordCredentials.map(passwordView),
      requiredResourceAccess: [],
    };
  }

  private servicePrincipalView(sp: ServicePrincipal): Record<string, unknown> {
    return {
      id: sp.id,
      deletedDateTime: null,
      accountEnabled: sp.accountEnabled,
      alternativeNames: sp.alternativeNames,
      appDisplayName: sp.appDisplayName,
      appId: sp.appId,
      appOwnerOrganizationId: sp.servicePrincipalType === 'Application' ? this.dir.tenantId : null,
      createdDateTime: sp.createdDateTime,
      displayName: sp.displayName,
      servicePrincipalNames: [sp.appId],
      servicePrincipalType: sp.servicePrincipalType,
      signInAudience: sp.servicePrincipalType === 'Application' ? 'AzureADMyOrg' : null,
      tags: sp.tags,
      keyCredentials: sp.keyCredentials.map(keyView),
      passwordCredentials: sp.passwordCredentials.map(passwordView),
      appRoles: sp.appRoles ?? [],
    };
  }

  // ------------------------------------------------------------------ ownedObjects

  /**
   * `GET /servicePrincipals/{id}/ownedObjects[/microsoft.graph.application]`: the applications and service principals
   * that principal owns, each with its `@odata.type`, paged like a list (`$top`, `@odata.nextLink`).
   */
  private ownedObjects(sp: ServicePrincipal, req: SimRequest, cast: string | undefined): SimResponse {
    const castType = cast?.toLowerCase();
    if (castType !== undefined && castType !== 'microsoft.graph.application' && castType !== 'microsoft.graph.serviceprincipal')
      throw new SimError(400, 'BadRequest', `Resource not found for the segment '${cast}'.`);
    const owned: Array<[Entity, Application | ServicePrincipal]> = [
      ...[...this.dir.applications.values()].map((a): [Entity, Application | ServicePrincipal] => ['applications', a]),
      ...[...this.dir.servicePrincipals.values()].map((o): [Entity, Application | ServicePrincipal] => ['servicePrincipals', o]),
    ].filter(
      ([entity, o]) =>
        o.owners.includes(sp.id) &&
        (castType === undefined || (castType === 'microsoft.graph.application') === (entity === 'applications')),
    );
    return ok(
      page(req, owned, `${BASE}/servicePrincipals/${sp.id}/ownedObjects${cast ? `/${cast}` : ''}`, (items) => ({
        '@odata.context': `${BASE}/$metadata#directoryObjects`,
        value: items.map(([entity, o]) => ({
          '@odata.type': entity === 'applications' ? '#microsoft.graph.application' : '#microsoft.graph.servicePrincipal',
          ...this.view(entity, o, req, false),
        })),
      })),
    );
  }

  // ------------------------------------------------------------------ list / filter

  /** `ownedBy`: only objects that principal owns (what Application.ReadWrite.OwnedBy may see). */
  private list(entity: Entity, req: SimRequest, ownedBy?: string): SimResponse {
    const all: (Application | ServicePrincipal)[] = (
      entity === 'applications' ? [...this.dir.applications.values()] : [...this.dir.servicePrincipals.values()]
    ).filter((o) => ownedBy === undefined || o.owners.includes(ownedBy));
    const filter = parseFilter(req.query.get('$filter'));
    // Collection properties exist only in the view; the filter needs them for `any()` lambdas.
    const matching = all.filter((o) =>
      filter(entity === 'servicePrincipals' ? { ...o, servicePrincipalNames: [o.appId] } : (o as unknown as Record<string, unknown>)),
    );
    const body = page(req, matching, `${BASE}/${entity}`, (items) => ({
      '@odata.context': `${BASE}/$metadata#${entity}`,
      value: items.map((o) => this.view(entity, o, req, false)),
    }));
    if (req.query.get('$count') === 'true') body['@odata.count'] = matching.length;
    return ok(body);
  }

  // ------------------------------------------------------------------ create / update / delete

  private createApplication(req: SimRequest): SimResponse {
    const body = objectBody(req);
    const displayName = requiredDisplayName(body, 'Application');
    const tags = stringArray(body.tags, 'tags', 'Application');
    const app = this.dir.createApplication(displayName, {
      signInAudience: typeof body.signInAudience === 'string' ? body.signInAudience : undefined,
      tags,
    });
    if (body.keyCredentials !== undefined) app.keyCredentials = this.keyCredentials(body.keyCredentials, 'Application');
    app.notes = optionalText(body, 'notes', 'Application');
    app.description = optionalText(body, 'description', 'Application');
    // An app-only caller becomes the owner of what it creates (that is what OwnedBy later lets it manage).
    app.owners.push(req.principal!.objectId);
    return { status: 201, headers: { location: `${BASE}/applications/${app.id}` }, body: this.view('applications', app, req, true) };
  }

  private createServicePrincipal(req: SimRequest, writeAll: boolean): SimResponse {
    const body = objectBody(req);
    if (typeof body.appId !== 'string')
      throw new SimError(400, 'Request_BadRequest', "Property 'appId' is required when creating a servicePrincipal.");
    const app = this.dir.applicationByAppId(body.appId);
    if (!app)
      throw new SimError(
        400,
        'Request_BadRequest',
        `The appId '${body.appId}' of the service principal does not reference a valid application object.`,
      );
    if (!writeAll && !app.owners.includes(req.principal!.objectId)) throw insufficientPrivileges();
    if (this.dir.servicePrincipalByAppId(body.appId)) {
      throw new SimError(
        409,
        'Request_MultipleObjectsWithSameKeyValue',
        'The service principal cannot be created, updated, or restored because the service principal name ' +
          body.appId +
          ' is already in use.',
      );
    }
    const sp = this.dir.createServicePrincipal(app, {
      accountEnabled: typeof body.accountEnabled === 'boolean' ? body.accountEnabled : undefined,
      tags: stringArray(body.tags, 'tags', 'ServicePrincipal'),
    });
    sp.owners.push(req.principal!.objectId);
    return {
      status: 201,
      headers: { location: `${BASE}/servicePrincipals/${sp.id}` },
      body: this.view('servicePrincipals', sp, req, true),
    };
  }

  private update(entity: Entity, obj: Application | ServicePrincipal, req: SimRequest): SimResponse {
    const body = objectBody(req);
    const kind = entity === 'applications' ? 'Application' : 'ServicePrincipal';
    for (const key of Object.keys(body)) {
      switch (key) {
        case 'displayName':
          obj.displayName = requiredDisplayName(body, kind);
          break;
        case 'tags':
          obj.tags = stringArray(body.tags, 'tags', kind) ?? [];
          break;
        case 'keyCredentials':
          obj.keyCredentials = this.keyCredentials(body.keyCredentials, kind);
          break;
        case 'accountEnabled':
          if (entity !== 'servicePrincipals' || typeof body.accountEnabled !== 'boolean') throw invalidProperty(key, kind);
          (obj as ServicePrincipal).accountEnabled = body.accountEnabled;
          break;
        case 'signInAudience':
          if (entity !== 'applications' || typeof body.signInAudience !== 'string') throw invalidProperty(key, kind);
          (obj as Application).signInAudience = body.signInAudience;
          break;
        case 'notes':
        case 'description':
          if (entity !== 'applications') throw invalidProperty(key, kind);
          (obj as Application)[key] = optionalText(body, key, kind);
          break;
        case 'passwordCredentials':
          throw new SimError(
            400,
            'Request_BadRequest',
            'Updating passwordCredentials via PATCH is not supported; use addPassword and removePassword.',
          );
        default:
          throw new SimError(400, 'Request_BadRequest', `Property '${key}' does not exist as a declared property or extension property.`);
      }
    }
    return { status: 204 };
  }

  private remove(entity: Entity, obj: Application | ServicePrincipal): SimResponse {
    if (entity === 'applications') {
      this.dir.applications.delete(obj.id);
      // Deleting an application also deletes its service principal in the home tenant.
      const sp = this.dir.servicePrincipalByAppId(obj.appId);
      if (sp) this.forgetServicePrincipal(sp.id);
    } else {
      if ((obj as ServicePrincipal).servicePrincipalType === 'ManagedIdentity') {
        throw new SimError(
          400,
          'Request_BadRequest',
          'A managed identity service principal cannot be deleted through Graph; delete the identity resource instead.',
        );
      }
      this.forgetServicePrincipal(obj.id);
    }
    return { status: 204 };
  }

  private forgetServicePrincipal(id: string): void {
    this.dir.servicePrincipals.delete(id);
    for (const [key, a] of this.dir.appRoleAssignments)
      if (a.principalId === id || a.resourceId === id) this.dir.appRoleAssignments.delete(key);
  }

  // ------------------------------------------------------------------ app role assignments (application permissions)

  /**
   * `GET|POST /servicePrincipals/{id}/appRoleAssignments`, `DELETE …/appRoleAssignments/{assignmentId}`
   * (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments): granting needs
   * AppRoleAssignment.ReadWrite.All; reading needs a directory or application read permission.
   */
  private appRoleAssignments(sp: ServicePrincipal, req: SimRequest, assignmentId: string | undefined, access: GraphAccess): SimResponse {
    const view = (a: AppRoleAssignment) => ({ deletedDateTime: null, ...a });
    if (req.method === 'GET' && assignmentId === undefined) {
      if (!access.read && !access.assign) throw insufficientPrivileges();
      const value = [...this.dir.appRoleAssignments.values()].filter((a) => a.principalId === sp.id).map(view);
      return ok({ '@odata.context': `${BASE}/$metadata#servicePrincipals('${sp.id}')/appRoleAssignments`, value });
    }
    if (!access.assign) throw insufficientPrivileges();
    if (req.method === 'POST' && assignmentId === undefined) {
      const body = objectBody(req);
      for (const k of ['principalId', 'resourceId', 'appRoleId'])
        if (typeof body[k] !== 'string') throw new SimError(400, 'Request_BadRequest', `Property '${k}' is required.`);
      if ((body.principalId as string).toLowerCase() !== sp.id.toLowerCase())
        throw new SimError(400, 'Request_BadRequest', `Property 'principalId' must be the service principal in the URL ('${sp.id}').`);
      const resource = this.dir.servicePrincipals.get(body.resourceId as string);
      if (!resource)
        throw new SimError(
          404,
          'Request_ResourceNotFound',
          `Resource '${body.resourceId as string}' does not exist or one of its queried reference-property objects are not present.`,
        );
      const role = resource.appRoles?.find((r) => r.id.toLowerCase() === (body.appRoleId as string).toLowerCase());
      if (!role)
        throw new SimError(400, 'Request_BadRequest', `Permission being assigned was not found on application '${resource.appId}'.`);
      const existing = [...this.dir.appRoleAssignments.values()].some(
        (a) => a.principalId === sp.id && a.resourceId === resource.id && a.appRoleId === role.id,
      );
      if (existing) throw new SimError(400, 'Request_BadRequest', 'Permission being assigned already exists on the object');
      const assignment = this.dir.assignAppRole(sp, resource, role.id);
      return {
        status: 201,
        headers: { location: `${BASE}/servicePrincipals/${sp.id}/appRoleAssignments/${assignment.id}` },
        body: view(assignment),
      };
    }
    if (req.method === 'DELETE' && assignmentId !== undefined) {
      const a = this.dir.appRoleAssignments.get(assignmentId);
      if (!a || a.principalId !== sp.id)
        throw new SimError(
          404,
          'Request_ResourceNotFound',
          `Resource '${assignmentId}' does not exist or one of its queried reference-property objects are not present.`,
        );
      this.dir.appRoleAssignments.delete(assignmentId);
      return { status: 204 };
    }
    throw methodNotAllowed(req.method);
  }

  private keyCredentials(value: unknown, kind: string): KeyCredential[] {
    if (!Array.isArray(value)) throw invalidProperty('keyCredentials', kind);
    return value.map((k) => {
      const entry = k as Record<string, unknown>;
      if (entry.type !== 'AsymmetricX509Cert' || entry.usage !== 'Verify' || typeof entry.key !== 'string') {
        throw new SimError(
          400,
          'Request_BadRequest',
          "Each keyCredential needs type 'AsymmetricX509Cert', usage 'Verify' and key (base64 of the certificate).",
        );
      }
      try {
        return keyCredentialFromCertificate(entry.key, {
          keyId: typeof entry.keyId === 'string' ? entry.keyId : randomUUID(),
          displayName: typeof entry.displayName === 'string' ? entry.displayName : undefined,
        });
      } catch {
        throw new SimError(
          400,
          'Request_BadRequest',
          'Key credential key is invalid: it must be the base64 encoding of an X.509 certificate.',
        );
      }
    });
  }

  // ------------------------------------------------------------------ passwords

  private addPassword(obj: Application | ServicePrincipal, req: SimRequest): SimResponse {
    const body = req.body.length === 0 ? {} : objectBody(req);
    const input = (body.passwordCredential ?? {}) as Record<string, unknown>;
    if (typeof input !== 'object' || input === null) throw invalidProperty('passwordCredential', 'PasswordCredential');
    const dates: { startDateTime?: string; endDateTime?: string } = {};
    for (const k of ['startDateTime', 'endDateTime'] as const) {
      if (input[k] === undefined || input[k] === null) continue;
      if (typeof input[k] !== 'string' || Number.isNaN(Date.parse(input[k]))) throw invalidProperty(k, 'PasswordCredential');
      dates[k] = input[k];
    }
    if (dates.startDateTime && dates.endDateTime && Date.parse(dates.endDateTime) <= Date.parse(dates.startDateTime)) {
      throw new SimError(400, 'Request_BadRequest', 'Credential end date must be later than its start date.');
    }
    const { credential, secretText } = this.dir.addPassword(obj, {
      displayName: typeof input.displayName === 'string' ? input.displayName : null,
      startDateTime: dates.startDateTime ?? new Date(this.ctx.clock.now()).toISOString(),
      endDateTime: dates.endDateTime,
    });
    return ok({ '@odata.context': `${BASE}/$metadata#microsoft.graph.passwordCredential`, ...passwordView(credential), secretText });
  }

  private removePassword(obj: Application | ServicePrincipal, req: SimRequest): SimResponse {
    const body = objectBody(req);
    if (typeof body.keyId !== 'string') throw new SimError(400, 'Request_BadRequest', "Property 'keyId' is required.");
    const before = obj.passwordCredentials.length;
    obj.passwordCredentials = obj.passwordCredentials.filter((c) => c.keyId.toLowerCase() !== (body.keyId as string).toLowerCase());
    if (obj.passwordCredentials.length === before)
      throw new SimError(400, 'Request_BadRequest', `No password credential found with keyId '${body.keyId}'.`);
    return { status: 204 };
  }

  // ------------------------------------------------------------------ owners

  private owners(entity: Entity, obj: Application | ServicePrincipal, req: SimRequest, ref: { id?: string } | undefined): SimResponse {
    if (!ref && req.method === 'GET') {
      const value = obj.owners
        .map((id) => this.dir.servicePrincipals.get(id))
        .filter((sp): sp is ServicePrincipal => sp !== undefined)
        .map((sp) => ({ '@odata.type': '#microsoft.graph.servicePrincipal', ...this.servicePrincipalView(sp) }));
      return ok({ '@odata.context': `${BASE}/$metadata#directoryObjects`, value });
    }
    if (ref && ref.id === undefined && req.method === 'POST') {
      const body = objectBody(req);
      const odataId = body['@odata.id'];
      const ownerId =
        typeof odataId === 'string'
          ? (/\/directoryObjects\/([^/?]+)$/.exec(odataId)?.[1] ?? /\/(?:servicePrincipals|users)\/([^/?]+)$/.exec(odataId)?.[1])
          : undefined;
      if (!ownerId)
        throw new SimError(
          400,
          'Request_BadRequest',
          "The '@odata.id' must reference https://graph.microsoft.com/v1.0/directoryObjects/{id}.",
        );
      if (!this.dir.servicePrincipals.get(ownerId))
        throw new SimError(
          404,
          'Request_ResourceNotFound',
          `Resource '${ownerId}' does not exist or one of its queried reference-property objects are not present.`,
        );
      if (obj.owners.includes(ownerId))
        throw new SimError(
          400,
          'Request_BadRequest',
          "One or more added object references already exist for the following modified properties: 'owners'.",
        );
      if (obj.owners.length >= MAX_OWNERS)
        throw new SimError(
          400,
          'Request_BadRequest',
          `An ${entity === 'applications' ? 'application' : 'service principal'} can have at most ${MAX_OWNERS} owners.`,
        );
      obj.owners.push(ownerId);
      return { status: 204 };
    }
    if (ref?.id && req.method === 'DELETE') {
      if (!obj.owners.includes(ref.id))
        throw new SimError(
          404,
          'Request_ResourceNotFound',
          `Resource '${ref.id}' does not exist or one of its queried reference-property objects are not present.`,
        );
      obj.owners = obj.owners.filter((o) => o !== ref.id);
      return { status: 204 };
    }
    throw methodNotAllowed(req.method);
  }

  // ------------------------------------------------------------------ control

  handleControl(req: SimRequest): SimResponse | undefined {
    const seg = req.path.split('/').filter(Boolean).slice(2);
    if (seg[0] !== 'limits') return undefined;
    if (req.method === 'GET') return ok(this.limits);
    if (req.method === 'PUT' || req.method === 'PATCH') {
      const body = (req.json ?? {}) as Record<string, unknown>;
      const next = { ...this.limits };
      for (const k of Object.keys(DEFAULT_GRAPH_LIMITS) as (keyof GraphLimits)[]) {
        if (body[k] === undefined) continue;
        if (k === 'enabled' ? typeof body[k] !== 'boolean' : !(typeof body[k] === 'number' && (body[k] as number) > 0))
          throw new SimError(400, 'BadRequest', `limit '${k}' has an invalid value ${JSON.stringify(body[k])}`);
        (next as Record<string, unknown>)[k] = body[k];
      }
      this.limits = next;
      this.windows.clear();
      return ok(this.limits);
    }
    return undefined;
  }
}

// ------------------------------------------------------------------ helpers

interface GraphAccess {
  /** Application.Read.All, Application.ReadWrite.All or Directory.Read.All: every application and service principal. */
  read: boolean;
  /** Application.ReadWrite.All. */
  write: boolean;
  /** Application.ReadWrite.OwnedBy: create, and manage what the caller owns. */
  ownedBy: boolean;
  /** AppRoleAssignment.ReadWrite.All. */
  assign: boolean;
}

function accessOf(roles: string[]): GraphAccess {
  const has = (v: string) => roles.some((r) => r.toLowerCase() === v.toLowerCase());
  const write = has('Application.ReadWrite.All');
  return {
    read: write || has('Application.Read.All') || has('Directory.Read.All') || has('Directory.ReadWrite.All'),
    write,
    ownedBy: has('Application.ReadWrite.OwnedBy'),
    assign: has('AppRoleAssignment.ReadWrite.All'),
  };
}

/** Graph's refusal when the token lacks the permission (https://learn.microsoft.com/graph/errors). */
function insufficientPrivileges(): SimError {
  return new SimError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}

function ok(body: unknown): SimResponse {
  return { status: 200, body };
}

function methodNotAllowed(method: string): SimError {
  return new SimError(405, 'Request_BadRequest', `The HTTP method '${method}' is not allowed on this resource.`);
}

function invalidProperty(property: string, kind: string): SimError {
  return new SimError(400, 'Request_BadRequest', `Invalid value specified for property '${property}' of resource '${kind}'.`);
}

function objectBody(req: SimRequest): Record<string, unknown> {
  if (typeof req.json !== 'object' || req.json === null || Array.isArray(req.json)) {
    throw new SimError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
  }
  return req.json as Record<string, unknown>;
}

function requiredDisplayName(body: Record<string, unknown>, kind: string): string {
  const v = body.displayName;
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > 256) throw invalidProperty('displayName', kind);
  return v;
}

function optionalText(body: Record<string, unknown>, property: string, kind: string): string | null {
  const v = body[property];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 1024) throw invalidProperty(property, kind);
  return v;
}

function stringArray(value: unknown, property: string, kind: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length > 256)) throw invalidProperty(property, kind);
  return value as string[];
}

function passwordView(c: PasswordCredential) {
  return {
    customKeyIdentifier: null,
    displayName: c.displayName,
    endDateTime: c.endDateTime,
    hint: c.hint,
    keyId: c.keyId,
    secretText: null,
    startDateTime: c.startDateTime,
  };
}

function keyView(k: KeyCredential) {
  return {
    customKeyIdentifier: k.customKeyIdentifier,
    displayName: k.displayName,
    endDateTime: k.endDateTime,
    key: null,
    keyId: k.keyId,
    startDateTime: k.startDateTime,
    type: k.type,
    usage: k.usage,
  };
}

function select(obj: Record<string, unknown>, selectParam: string | null): Record<string, unknown> {
  if (!selectParam) return obj;
  const fields = selectParam
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const key = Object.keys(obj).find((k) => k.toLowerCase() === f.toLowerCase());
    if (!key)
      throw new SimError(400, 'Request_BadRequest', `Could not find a property named '${f}' on type 'microsoft.graph.directoryObject'.`);
    out[key] = obj[key];
  }
  return out;
}

const FILTERABLE = ['appId', 'displayName', 'id', 'servicePrincipalType'];
/**
 * String collections Graph filters with `any()`
 * (https://learn.microsoft.com/graph/filter-query-parameter#filter-using-lambda-operators).
 */
const COLLECTION_FILTERABLE = ['servicePrincipalNames', 'identifierUris'];

/**
 * `$filter` subset: `prop eq 'v'`, `startswith(prop,'v')`, and on string collections
 * `prop/any(x:x eq 'v')` / `prop/any(x:startswith(x,'v'))` (the Azure CLI looks a service principal up
 * by `servicePrincipalNames/any(c:c eq '<appId>')`), joined with `and` / `or` (no nesting).
 */
export function parseFilter(filter: string | null): (obj: Record<string, unknown>) => boolean {
  if (!filter || !filter.trim()) return () => true;
  if (filter.length > 2048) throw new SimError(400, 'Request_UnsupportedQuery', 'The $filter expression is too long.');
  const orParts = filter.split(/\s+or\s+/i);
  const clauses = orParts.map((part) => part.split(/\s+and\s+/i).map(parseClause));
  return (obj) => clauses.some((all) => all.every((c) => c(obj)));
}

function parseClause(text: string): (obj: Record<string, unknown>) => boolean {
  const t = text
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .trim();
  const lambda = /^(\w+)\/any\(\s*(\w+)\s*:\s*(?:\2\s+eq\s+'((?:[^']|'')*)'|startswith\(\s*\2\s*,\s*'((?:[^']|'')*)'\s*\))\s*\)$/i.exec(t);
  if (lambda) {
    const prop = COLLECTION_FILTERABLE.find((p) => p.toLowerCase() === lambda[1]!.toLowerCase());
    if (!prop)
      throw new SimError(
        400,
        'Request_UnsupportedQuery',
        `Unsupported or invalid query filter clause specified for property '${lambda[1]}' of resource 'directoryObject'.`,
      );
    const isEq = lambda[3] !== undefined;
    const value = (lambda[3] ?? lambda[4]!).replace(/''/g, "'").toLowerCase();
    return (obj) => {
      const items = Array.isArray(obj[prop]) ? (obj[prop] as unknown[]).map((v) => String(v).toLowerCase()) : [];
      return items.some((v) => (isEq ? v === value : v.startsWith(value)));
    };
  }
  const eq = /^(\w+)\s+eq\s+'((?:[^']|'')*)'$/i.exec(t);
  const starts = /^startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)$/i.exec(t);
  const m = eq ?? starts;
  if (!m)
    throw new SimError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${t.split(/\s|\(/)[0] ?? t}': '${t}'.`,
    );
  const prop = FILTERABLE.find((p) => p.toLowerCase() === m[1]!.toLowerCase());
  if (!prop)
    throw new SimError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${m[1]}' of resource 'directoryObject'.`,
    );
  const value = m[2]!.replace(/''/g, "'").toLowerCase();
  return eq
    ? (obj) => String(obj[prop] ?? '').toLowerCase() === value
    : (obj) =>
        String(obj[prop] ?? '')
          .toLowerCase()
          .startsWith(value);
}

/**
 * One page of a Graph collection: `$top` (1..MAX_TOP, Graph's error otherwise), an opaque `$skiptoken`, and an
 * `@odata.nextLink` to `base` with the request's query and the next token while more remain.
 */
function page<T>(req: SimRequest, all: T[], base: string, render: (items: T[]) => Record<string, unknown>): Record<string, unknown> {
  const topParam = req.query.get('$top');
  const top = topParam === null ? DEFAULT_TOP : Number(topParam);
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP)
    throw new SimError(
      400,
      'Request_BadRequest',
      `Invalid page size specified: '${topParam}'. Must be between 1 and ${MAX_TOP} inclusive.`,
    );
  const skipToken = req.query.get('$skiptoken');
  const skip = skipToken ? Number(Buffer.from(skipToken, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(skip) || skip < 0) throw new SimError(400, 'Request_BadRequest', "The '$skiptoken' is invalid.");
  const body = render(all.slice(skip, skip + top));
  if (skip + top < all.length) {
    const q = new URLSearchParams(req.query);
    q.set('$skiptoken', Buffer.from(String(skip + top)).toString('base64url'));
    body['@odata.nextLink'] = `${base}?${q.toString()}`;
  }
  return body;
}
