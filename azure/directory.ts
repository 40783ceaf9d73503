/**
 * DirectoryPort over Microsoft Graph v1.0 (@microsoft/microsoft-graph-client), authenticated with
 * the app's TokenCredential and sending every request through the proxy-aware fetch.
 *
 * Needs the Graph application permission `Application.ReadWrite.OwnedBy` only: the automation can
 * create applications (becoming their owner) and manage just those. Every app it creates carries
 * the {@link AUTOMATION_TAG} tag, and lookups only ever consider tagged apps the automation's own
 * principal owns (its `ownedObjects`): display names and tags are not unique in Entra, so anyone allowed
 * to register applications could otherwise plant an older look-alike whose principal would then be granted
 * `wrapKey` and `set` on the vault (https://learn.microsoft.com/graph/api/serviceprincipal-list-ownedobjects).
 */
import {
  AuthenticationHandler,
  Client,
  RedirectHandler,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import type { TokenCredential } from '@azure/core-auth';
import { AdeError, TransientError, ValidationError } from '../core/errors';
import { isGuid } from '../core/resource-ids';
import { callAzure, callAzureOrUndefined, GRAPH_RETRY_OPTIONS } from './errors';
import type {
  ApplicationInfo,
  AppPasswordInfo,
  DirectoryPort,
  EnsureApplicationResult,
  PasswordCredential,
  ServicePrincipalInfo,
} from './ports';
import { ProxyAwareFetchHandler } from './proxy-fetch';
import { SecretValue } from './secret-value';

/** Tag on every application/service principal the automation creates. */
const AUTOMATION_TAG = 'ade-autopilot';

export interface DirectoryAdapterOptions {
  /** Graph endpoint, e.g. https://graph.microsoft.us for US Gov; default https://graph.microsoft.com. */
  graphBaseUrl?: string;
  /** Replaces the last middleware (tests inject a transport here). */
  transport?: Middleware;
  /** Clock for credential end dates (tests pin it). */
  now?: () => number;
}

interface GraphApplication {
  id: string;
  appId: string;
  displayName: string;
  tags?: string[];
  createdDateTime?: string;
  passwordCredentials?: GraphPasswordCredential[];
}

interface GraphServicePrincipal {
  id: string;
  appId: string;
  displayName?: string;
}

interface GraphPasswordCredential {
  keyId: string;
  endDateTime: string;
  startDateTime?: string;
  displayName?: string;
  secretText?: string;
}

export class DirectoryAdapter implements DirectoryPort {
  private readonly client: Client;
  private readonly now: () => number;
  private readonly credential: TokenCredential;
  private readonly scope: string;
  private selfObjectId?: Promise<string>;

  constructor(credential: TokenCredential, options: DirectoryAdapterOptions = {}) {
    const baseUrl = (options.graphBaseUrl ?? 'https://graph.microsoft.com').replace(/\/+$/, '');
    this.credential = credential;
    this.scope = `${baseUrl}/.default`;
    const authProvider = new TokenCredentialAuthenticationProvider(credential, { scopes: [`${baseUrl}/.default`] });
    // The default chain ends in HTTPMessageHandler (global fetch, which ignores HTTPS_PROXY);
    // ours ends in the proxy-aware fetch. Retry settings as for the ARM SDKs (see azure/errors.ts).
    const chain: Middleware[] = [
      new AuthenticationHandler(authProvider),
      new RetryHandler(new RetryHandlerOptions(GRAPH_RETRY_OPTIONS.delaySeconds, GRAPH_RETRY_OPTIONS.maxRetries)),
      new RedirectHandler(),
      new TelemetryHandler(),
      options.transport ?? new ProxyAwareFetchHandler(),
    ];
    for (let i = 0; i < chain.length - 1; i++) chain[i]!.setNext?.(chain[i + 1]!);
    this.client = Client.initWithMiddleware({ middleware: chain[0], baseUrl: `${baseUrl}/`, defaultVersion: 'v1.0' });
    this.now = options.now ?? Date.now;
  }

  async ensureApplication(displayName: string, options: { notes?: string } = {}): Promise<EnsureApplicationResult> {
    if (displayName.trim() === '' || displayName.length > 120)
      throw new ValidationError('Application display name must be 1–120 characters', { field: 'displayName' });
    const existing = await this.findApplications(displayName);
    if (existing.length > 0) return { ...toApplicationInfo(pickCanonical(existing)), created: false };

    const created = await callAzure(
      `Create Entra application ${displayName}`,
      () =>
        this.client.api('/applications').post({
          displayName,
          signInAudience: 'AzureADMyOrg',
          tags: [AUTOMATION_TAG],
          ...(options.notes ? { notes: options.notes } : {}),
        }) as Promise<GraphApplication>,
    );
    // Entra allows duplicate display names. If another run created one at the same moment, all
    // runs converge on the oldest and the others delete their own copy.
    const all = await this.findApplications(displayName);
    const canonical = pickCanonical(all.some((a) => a.id === created.id) ? all : [...all, created]);
    if (canonical.id !== created.id) {
      await this.deleteApplication(created.id);
      return { ...toApplicationInfo(canonical), created: false };
    }
    return { ...toApplicationInfo(created), created: true };
  }

  async ownsApplication(appObjectId: string, appId: string): Promise<boolean> {
    checkObjectId(appObjectId, 'appObjectId');
    if (!isGuid(appId)) throw new ValidationError(`appId must be a GUID: got ${JSON.stringify(appId)}`, { field: 'appId' });
    const owned = await this.ownedApplications(`application ${appObjectId}`, () => true);
    return owned.some((a) => a.id.toLowerCase() === appObjectId.toLowerCase() && a.appId.toLowerCase() === appId.toLowerCase());
  }

  /**
   * Whether an application object exists at all (`GET /applications/{id}`): false only when Graph answers 404. A 403 (an
   * application the automation may not read, i.e. not its own) counts as existing, so a foreign application is never
   * mistaken for a deleted one.
   */
  async applicationExists(appObjectId: string): Promise<boolean> {
    checkObjectId(appObjectId, 'appObjectId');
    try {
      const found = await callAzureOrUndefined(
        `Read application ${appObjectId}`,
        () => this.client.api(`/applications/${appObjectId}`).select('id').get() as Promise<unknown>,
      );
      return found !== undefined;
    } catch (error) {
      if (error instanceof AdeError && error.kind === 'permission') return true;
      throw error;
    }
  }

  /**
   * The tagged applications of that display name among those the automation's own service principal owns:
   * `GET /servicePrincipals/{self}/ownedObjects/microsoft.graph.application`, every page. An application someone
   * else created (even with the same name and tag, even older) is never considered.
   */
  private findApplications(displayName: string): Promise<GraphApplication[]> {
    return this.ownedApplications(`Entra application ${displayName}`, (o) => o.displayName === displayName);
  }

  /** The tagged applications the automation's own principal owns that pass `keep`, every page. */
  private async ownedApplications(
    what: string,
    keep: (app: GraphApplication) => boolean,
    extraFields: string[] = [],
  ): Promise<GraphApplication[]> {
    const owner = await this.ownObjectId();
    const found: GraphApplication[] = [];
    let next: string | undefined = `/servicePrincipals/${owner}/ownedObjects/microsoft.graph.application`;
    for (let page = 0; next !== undefined; page++) {
      if (page >= MAX_OWNED_PAGES)
        throw new TransientError(`Listing the applications principal ${owner} owns did not end after ${MAX_OWNED_PAGES} pages`);
      const url: string = next;
      const result = await callAzure(
        `Look up ${what} among those principal ${owner} owns`,
        () =>
          (page === 0
            ? this.client
                .api(url)
                .select(['id', 'appId', 'displayName', 'tags', 'createdDateTime', ...extraFields])
                .top(OWNED_PAGE_SIZE)
            : this.client.api(url)
          ).get() as Promise<{ value?: Array<GraphApplication & { '@odata.type'?: string }>; '@odata.nextLink'?: string }>,
      );
      for (const o of result.value ?? []) {
        const type = o['@odata.type'];
        if (type !== undefined && type.toLowerCase() !== '#microsoft.graph.application') continue;
        if ((o.tags ?? []).includes(AUTOMATION_TAG) && keep(o)) found.push(o);
      }
      next = result['@odata.nextLink'];
    }
    return found;
  }

  /** The automation's own object id (the `oid` claim of its Graph token: the principal the app runs as). */
  private ownObjectId(): Promise<string> {
    this.selfObjectId ??= (async () => {
      const token = await this.credential.getToken(this.scope);
      const oid = token ? oidOf(token.token) : undefined;
      if (!oid)
        throw new TransientError('The Graph access token carries no object id (oid claim); cannot tell which applications the app owns');
      return oid;
    })().catch((error: unknown) => {
      this.selfObjectId = undefined;
      throw error;
    });
    return this.selfObjectId;
  }

  async ensureServicePrincipal(appId: string): Promise<ServicePrincipalInfo> {
    if (!isGuid(appId)) throw new ValidationError(`appId must be a GUID: got ${JSON.stringify(appId)}`, { field: 'appId' });
    const found = await this.findServicePrincipal(appId);
    if (found) return found;
    try {
      const created = await callAzure(
        `Create service principal for application ${appId}`,
        () => this.client.api('/servicePrincipals').post({ appId, tags: [AUTOMATION_TAG] }) as Promise<GraphServicePrincipal>,
      );
      return toServicePrincipalInfo(created);
    } catch (error) {
      // A concurrent run created it first (Graph answers 409 / 400 "already exists"): use that one.
      const again = await this.findServicePrincipal(appId);
      if (again) return again;
      throw error;
    }
  }

  private async findServicePrincipal(appId: string): Promise<ServicePrincipalInfo | undefined> {
    const result = await callAzure(
      `Look up service principal for application ${appId}`,
      () =>
        this.client.api('/servicePrincipals').filter(`appId eq '${appId}'`).select(['id', 'appId', 'displayName']).get() as Promise<{
          value?: GraphServicePrincipal[];
        }>,
    );
    const sp = result.value?.[0];
    return sp ? toServicePrincipalInfo(sp) : undefined;
  }

  async addPassword(appObjectId: string, options: { lifetimeMs: number; displayName?: string }): Promise<PasswordCredential> {
    checkObjectId(appObjectId, 'appObjectId');
    if (!Number.isFinite(options.lifetimeMs) || options.lifetimeMs <= 0)
      throw new ValidationError('Password lifetime must be a positive number of milliseconds', { field: 'lifetimeMs' });
    const endDateTime = new Date(this.now() + options.lifetimeMs).toISOString();
    const credential = await callAzure(
      `Add password credential to application ${appObjectId}`,
      () =>
        this.client.api(`/applications/${appObjectId}/addPassword`).post({
          passwordCredential: { displayName: options.displayName ?? 'ade-autopilot short-lived', endDateTime },
        }) as Promise<GraphPasswordCredential>,
    );
    if (!credential.secretText) {
      throw new TransientError(
        `Graph created password credential ${credential.keyId} on application ${appObjectId} but returned no secret text`,
        { code: 'MissingSecretText' },
      );
    }
    return { keyId: credential.keyId, endDateTime: credential.endDateTime ?? endDateTime, secret: new SecretValue(credential.secretText) };
  }

  async listOwnedAppPasswords(displayNamePrefix: string): Promise<AppPasswordInfo[]> {
    if (!/^[a-z0-9-]{3,60}$/i.test(displayNamePrefix))
      throw new ValidationError('displayNamePrefix must be 3–60 letters, digits or hyphens', { field: 'displayNamePrefix' });
    const apps = await this.ownedApplications(
      `Entra applications ${displayNamePrefix}*`,
      (a) => a.displayName.startsWith(displayNamePrefix),
      ['passwordCredentials'],
    );
    return apps.flatMap((app) =>
      (app.passwordCredentials ?? []).map((c) => ({
        appObjectId: app.id,
        appDisplayName: app.displayName,
        keyId: c.keyId,
        ...(c.displayName ? { displayName: c.displayName } : {}),
        ...(c.startDateTime ? { startDateTime: c.startDateTime } : {}),
        ...(c.endDateTime ? { endDateTime: c.endDateTime } : {}),
      })),
    );
  }

  async removePassword(appObjectId: string, keyId: string): Promise<void> {
    checkObjectId(appObjectId, 'appObjectId');
    checkObjectId(keyId, 'keyId');
    try {
      await callAzureOrUndefined(
        `Remove password credential ${keyId} from application ${appObjectId}`,
        () => this.client.api(`/applications/${appObjectId}/removePassword`).post({ keyId }) as Promise<unknown>,
      );
    } catch (error) {
      // Graph answers 400 "No password credential found with keyId" when it is already gone:
      // removal is a cleanup step and must be repeatable.
      if (error instanceof AdeError && error.kind === 'validation' && /no password credential found/i.test(error.message)) return;
      throw error;
    }
  }

  async deleteApplication(appObjectId: string): Promise<void> {
    checkObjectId(appObjectId, 'appObjectId');
    await callAzureOrUndefined(
      `Delete application ${appObjectId}`,
      () => this.client.api(`/applications/${appObjectId}`).delete() as Promise<unknown>,
    );
  }

  async deleteServicePrincipal(servicePrincipalObjectId: string): Promise<void> {
    checkObjectId(servicePrincipalObjectId, 'servicePrincipalObjectId');
    await callAzureOrUndefined(
      `Delete service principal ${servicePrincipalObjectId}`,
      () => this.client.api(`/servicePrincipals/${servicePrincipalObjectId}`).delete() as Promise<unknown>,
    );
  }
}

/** Page size for the owned applications (Graph allows up to 999 on directory object collections). */
const OWNED_PAGE_SIZE = 999;
const MAX_OWNED_PAGES = 100;

/** The `oid` claim of a JWT access token (not verified: it is our own token, used only to name ourselves). */
function oidOf(jwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { oid?: unknown };
    return typeof payload.oid === 'string' && isGuid(payload.oid) ? payload.oid : undefined;
  } catch {
    return undefined;
  }
}

/** The oldest application wins (ties broken by id), so concurrent creators agree. */
function pickCanonical(apps: GraphApplication[]): GraphApplication {
  return [...apps].sort((a, b) => (a.createdDateTime ?? '').localeCompare(b.createdDateTime ?? '') || a.id.localeCompare(b.id))[0]!;
}

function toApplicationInfo(app: GraphApplication): ApplicationInfo {
  return { objectId: app.id, appId: app.appId, displayName: app.displayName };
}

function toServicePrincipalInfo(sp: GraphServicePrincipal): ServicePrincipalInfo {
  const info: ServicePrincipalInfo = { objectId: sp.id, appId: sp.appId };
  if (sp.displayName) info.displayName = sp.displayName;
  return info;
}

function checkObjectId(value: string, field: string): void {
  if (!isGuid(value)) throw new ValidationError(`${field} must be a GUID: got ${JSON.stringify(value)}`, { field });
}
