/**
 * The Entra directory: applications, service principals and managed identities of the simulated
 * tenant. Graph edits it, the token endpoint signs principals in from it, ARM and Key Vault look
 * principals up in it. Client secrets are stored only as SHA-256 hashes (never in state or logs).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Directory, Principal } from '../contract';

export interface PasswordCredential {
  keyId: string;
  displayName: string | null;
  hint: string;
  /** SHA-256 hex of the secret text. */
  secretHash: string;
  startDateTime: string;
  endDateTime: string;
  customKeyIdentifier: null;
}

export interface KeyCredential {
  keyId: string;
  displayName: string | null;
  type: 'AsymmetricX509Cert';
  usage: 'Verify';
  /** Base64 DER of the certificate. */
  key: string;
  /** Base64 of the SHA-1 thumbprint, as Graph reports it. */
  customKeyIdentifier: string;
  /** Hex SHA-1 and SHA-256 thumbprints, matched against the assertion's x5t / x5t#S256. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  startDateTime: string;
  endDateTime: string;
}

export interface Application {
  id: string;
  appId: string;
  displayName: string;
  createdDateTime: string;
  signInAudience: string;
  passwordCredentials: PasswordCredential[];
  keyCredentials: KeyCredential[];
  owners: string[];
  tags: string[];
  notes?: string | null;
  description?: string | null;
}

export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  appDisplayName: string;
  servicePrincipalType: 'Application' | 'ManagedIdentity';
  accountEnabled: boolean;
  createdDateTime: string;
  passwordCredentials: PasswordCredential[];
  keyCredentials: KeyCredential[];
  owners: string[];
  tags: string[];
  alternativeNames: string[];
  /** Application permissions this service principal's API offers (Microsoft Graph's). */
  appRoles?: AppRole[];
}

export interface AppRole {
  id: string;
  value: string;
  displayName: string;
  description: string;
  allowedMemberTypes: ['Application'];
  isEnabled: true;
  origin: 'Application';
}

/** An application permission granted to a service principal (https://learn.microsoft.com/graph/api/resources/approleassignment). */
export interface AppRoleAssignment {
  id: string;
  appRoleId: string;
  /** The service principal granted the permission. */
  principalId: string;
  principalDisplayName: string;
  principalType: 'ServicePrincipal';
  /** The API's service principal (Microsoft Graph's). */
  resourceId: string;
  resourceDisplayName: string;
  createdDateTime: string;
}

/** Microsoft Graph's application id, the same in every tenant. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/**
 * The Microsoft Graph application permissions the simulator knows, with their real app role ids
 * (https://learn.microsoft.com/graph/permissions-reference). Graph enforces the Application.* ones.
 */
export const GRAPH_APP_ROLES: readonly AppRole[] = [
  ['18a4783c-866b-4cc7-a460-3d5e5662c884', 'Application.ReadWrite.OwnedBy', 'Manage apps that this app creates or owns'],
  ['1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9', 'Application.ReadWrite.All', 'Read and write all applications'],
  ['9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', 'Application.Read.All', 'Read all applications'],
  ['7ab1d382-f21e-4acd-a863-ba3e13f7da61', 'Directory.Read.All', 'Read directory data'],
  ['06b708a9-e830-4db3-a914-8e69da51d44f', 'AppRoleAssignment.ReadWrite.All', 'Manage app permission grants and app role assignments'],
].map(([id, value, displayName]) => ({
  id: id!,
  value: value!,
  displayName: displayName!,
  description: displayName!,
  allowedMemberTypes: ['Application'] as ['Application'],
  isEnabled: true as const,
  origin: 'Application' as const,
}));

interface DirectoryState {
  tenantId: string;
  applications: Application[];
  servicePrincipals: ServicePrincipal[];
  appRoleAssignments?: AppRoleAssignment[];
}

export class EntraDirectory implements Directory {
  tenantId: string;
  readonly applications = new Map<string, Application>();
  readonly servicePrincipals = new Map<string, ServicePrincipal>();
  readonly appRoleAssignments = new Map<string, AppRoleAssignment>();
  private readonly initialTenantId: string;

  constructor(
    tenantId: string,
    private readonly now: () => number,
  ) {
    this.tenantId = tenantId;
    this.initialTenantId = tenantId;
  }

  // ---- Directory contract ----
  findByObjectId(objectId: string): Principal | undefined {
    const sp = this.servicePrincipals.get(objectId);
    return sp ? this.toPrincipal(sp) : undefined;
  }

  findByAppId(appId: string): Principal | undefined {
    const sp = this.servicePrincipalByAppId(appId);
    return sp ? this.toPrincipal(sp) : undefined;
  }

  toPrincipal(sp: ServicePrincipal, audience = ''): Principal {
    const graph = /^(https:\/\/graph\.microsoft\.com\/?|00000003-0000-0000-c000-000000000000)$/i.test(audience);
    return {
      roles: graph ? this.permissionsOf(sp.id) : [],
      tenantId: this.tenantId,
      objectId: sp.id,
      appId: sp.appId,
      kind: sp.servicePrincipalType === 'ManagedIdentity' ? 'managedIdentity' : 'servicePrincipal',
      displayName: sp.displayName,
      audience,
    };
  }

  /** Microsoft Graph's service principal in this tenant (created with the seed; it has no application object here). */
  ensureGraphServicePrincipal(): ServicePrincipal {
    const existing = this.servicePrincipalByAppId(GRAPH_APP_ID);
    if (existing) return existing;
    const sp: ServicePrincipal = {
      id: randomUUID(),
      appId: GRAPH_APP_ID,
      displayName: 'Microsoft Graph',
      appDisplayName: 'Microsoft Graph',
      servicePrincipalType: 'Application',
      accountEnabled: true,
      createdDateTime: this.iso(),
      passwordCredentials: [],
      keyCredentials: [],
      owners: [],
      tags: [],
      alternativeNames: [],
      appRoles: [...GRAPH_APP_ROLES],
    };
    this.servicePrincipals.set(sp.id, sp);
    return sp;
  }

  /** Graph application permissions (values) granted to a service principal. */
  permissionsOf(principalId: string): string[] {
    const graph = this.servicePrincipalByAppId(GRAPH_APP_ID);
    if (!graph) return [];
    const out = new Set<string>();
    for (const a of this.appRoleAssignments.values()) {
      if (a.principalId !== principalId || a.resourceId !== graph.id) continue;
      const role = graph.appRoles?.find((r) => r.id === a.appRoleId);
      if (role) out.add(role.value);
    }
    return [...out];
  }

  /** Grants an app role of `resource` to `principal` (idempotent: returns the existing assignment). */
  assignAppRole(principal: ServicePrincipal, resource: ServicePrincipal, appRoleId: string): AppRoleAssignment {
    for (const a of this.appRoleAssignments.values())
      if (a.principalId === principal.id && a.resourceId === resource.id && a.appRoleId === appRoleId) return a;
    const assignment: AppRoleAssignment = {
      id: randomBytes(24).toString('base64url'),
      appRoleId,
      principalId: principal.id,
      principalDisplayName: principal.displayName,
      principalType: 'ServicePrincipal',
      resourceId: resource.id,
      resourceDisplayName: resource.displayName,
      createdDateTime: this.iso(),
    };
    this.appRoleAssignments.set(assignment.id, assignment);
    return assignment;
  }

  /** Grants Microsoft Graph application permissions by value, e.g. Application.ReadWrite.All. */
  grantGraphPermissions(principalId: string, values: string[]): void {
    const sp = this.servicePrincipals.get(principalId);
    if (!sp) throw new Error(`No service principal '${principalId}'`);
    const graph = this.ensureGraphServicePrincipal();
    for (const value of values) {
      const role = graph.appRoles?.find((r) => r.value.toLowerCase() === value.toLowerCase());
      if (!role) throw new Error(`Microsoft Graph has no application permission '${value}'`);
      this.assignAppRole(sp, graph, role.id);
    }
  }

  // ---- lookups ----
  applicationByAppId(appId: string): Application | undefined {
    const needle = appId.toLowerCase();
    for (const app of this.applications.values()) if (app.appId.toLowerCase() === needle) return app;
    return undefined;
  }

  servicePrincipalByAppId(appId: string): ServicePrincipal | undefined {
    const needle = appId.toLowerCase();
    for (const sp of this.servicePrincipals.values()) if (sp.appId.toLowerCase() === needle) return sp;
    return undefined;
  }

  // ---- mutations ----
  createApplication(displayName: string, extra: Partial<Pick<Application, 'signInAudience' | 'tags'>> = {}): Application {
    const app: Application = {
      id: randomUUID(),
      appId: randomUUID(),
      displayName,
      createdDateTime: this.iso(),
      signInAudience: extra.signInAudience ?? 'AzureADMyOrg',
      passwordCredentials: [],
      keyCredentials: [],
      owners: [],
      tags: extra.tags ?? [],
    };
    this.applications.set(app.id, app);
    return app;
  }

  createServicePrincipal(app: Application, extra: Partial<Pick<ServicePrincipal, 'accountEnabled' | 'tags'>> = {}): ServicePrincipal {
    const sp: ServicePrincipal = {
      id: randomUUID(),
      appId: app.appId,
      displayName: app.displayName,
      appDisplayName: app.displayName,
      servicePrincipalType: 'Application',
      accountEnabled: extra.accountEnabled ?? true,
      createdDateTime: this.iso(),
      passwordCredentials: [],
      keyCredentials: [],
      owners: [],
      tags: extra.tags ?? [],
      alternativeNames: [],
    };
    this.servicePrincipals.set(sp.id, sp);
    return sp;
  }

  /** A managed identity is a service principal of type ManagedIdentity with no application object. */
  createManagedIdentity(displayName: string, resourceId: string): ServicePrincipal {
    const sp: ServicePrincipal = {
      id: randomUUID(),
      appId: randomUUID(),
      displayName,
      appDisplayName: displayName,
      servicePrincipalType: 'ManagedIdentity',
      accountEnabled: true,
      createdDateTime: this.iso(),
      passwordCredentials: [],
      keyCredentials: [],
      owners: [],
      tags: [],
      alternativeNames: ['isExplicit=False', resourceId],
    };
    this.servicePrincipals.set(sp.id, sp);
    return sp;
  }

  /** Adds a generated client secret; returns the secret text once (only its hash is kept). */
  addPassword(
    owner: { passwordCredentials: PasswordCredential[] },
    options: { displayName?: string | null; startDateTime?: string; endDateTime?: string } = {},
  ): { credential: PasswordCredential; secretText: string } {
    // Real secrets are 40 characters from a URL-safe alphabet with a 3-character hint prefix.
    const secretText = randomBytes(30).toString('base64').replace(/\+/g, '~').replace(/\//g, '_').replace(/=/g, '.').slice(0, 40);
    const start = options.startDateTime ?? this.iso();
    const end = options.endDateTime ?? new Date(Date.parse(start) + 2 * 365 * 24 * 3600_000).toISOString();
    const credential: PasswordCredential = {
      keyId: randomUUID(),
      displayName: options.displayName ?? null,
      hint: secretText.slice(0, 3),
      secretHash: hashSecret(secretText),
      startDateTime: normalizeDate(start),
      endDateTime: normalizeDate(end),
      customKeyIdentifier: null,
    };
    owner.passwordCredentials.push(credential);
    return { credential, secretText };
  }

  /** Finds the credential matching `secret` among an app's and its service principal's passwords. */
  matchPassword(appId: string, secret: string): PasswordCredential | undefined {
    const hash = Buffer.from(hashSecret(secret), 'hex');
    for (const cred of this.passwordsOf(appId)) {
      if (timingSafeEqual(Buffer.from(cred.secretHash, 'hex'), hash)) return cred;
    }
    return undefined;
  }

  passwordsOf(appId: string): PasswordCredential[] {
    return [
      ...(this.applicationByAppId(appId)?.passwordCredentials ?? []),
      ...(this.servicePrincipalByAppId(appId)?.passwordCredentials ?? []),
    ];
  }

  keyCredentialsOf(appId: string): KeyCredential[] {
    return [...(this.applicationByAppId(appId)?.keyCredentials ?? []), ...(this.servicePrincipalByAppId(appId)?.keyCredentials ?? [])];
  }

  // ---- state ----
  snapshot(): DirectoryState {
    return structuredClone({
      tenantId: this.tenantId,
      applications: [...this.applications.values()],
      servicePrincipals: [...this.servicePrincipals.values()],
      appRoleAssignments: [...this.appRoleAssignments.values()],
    });
  }

  restore(value: unknown): void {
    const state = value as DirectoryState;
    this.tenantId = state.tenantId;
    this.applications.clear();
    this.servicePrincipals.clear();
    for (const app of structuredClone(state.applications)) this.applications.set(app.id, app);
    for (const sp of structuredClone(state.servicePrincipals)) this.servicePrincipals.set(sp.id, sp);
    this.appRoleAssignments.clear();
    for (const a of structuredClone(state.appRoleAssignments ?? [])) this.appRoleAssignments.set(a.id, a);
  }

  reset(): void {
    this.tenantId = this.initialTenantId;
    this.applications.clear();
    this.servicePrincipals.clear();
    this.appRoleAssignments.clear();
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function normalizeDate(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`'${value}' is not a valid date-time`);
  return new Date(ms).toISOString();
}
