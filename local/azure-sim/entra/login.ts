/**
 * Entra ID (login.microsoftonline.com): instance discovery, OpenID metadata, JWKS, and the OAuth2
 * token endpoints (v2.0 with scope, v1 with resource) for client credentials with a client secret or
 * a certificate assertion (RFC 7523). Errors use Entra's AADSTS codes and OAuth error envelope.
 * Also the App Service managed-identity endpoint (IDENTITY_ENDPOINT / X-IDENTITY-HEADER).
 */
import { createHash, createPublicKey, createVerify, X509Certificate } from 'node:crypto';
import type { Clock, Service, SimRequest, SimResponse } from '../contract';
import { SimError } from '../contract';
import type { TokenIssuer } from '../front/tokens';
import type { EntraDirectory, KeyCredential, ServicePrincipal } from './directory';

export const LOGIN_HOST = 'login.microsoftonline.com';
export const AUTHORITY = `https://${LOGIN_HOST}`;

/** Resources the simulated tenant issues tokens for (resource URI → canonical audience). */
const RESOURCES: Record<string, string> = {
  'https://management.azure.com': 'https://management.azure.com',
  'https://management.core.windows.net': 'https://management.core.windows.net',
  'https://graph.microsoft.com': 'https://graph.microsoft.com',
  'https://vault.azure.net': 'https://vault.azure.net',
  'https://eventgrid.azure.net': 'https://eventgrid.azure.net',
};

export function resourceAudience(resource: string): string | undefined {
  return RESOURCES[resource.replace(/\/+$/, '').toLowerCase()];
}

export class LoginService implements Service {
  readonly name = 'login';
  readonly requiresAuth = false;

  constructor(
    private readonly directory: EntraDirectory,
    private readonly tokens: TokenIssuer,
    private readonly clock: Clock,
  ) {}

  matches(host: string): boolean {
    return host === LOGIN_HOST || host === 'login.windows.net' || host === 'login.microsoft.com' || host === 'sts.windows.net';
  }

  operationOf(req: SimRequest): string {
    if (/\/oauth2\/(v2\.0\/)?token$/.test(req.path)) return 'token';
    if (req.path.endsWith('/discovery/instance')) return 'instanceDiscovery';
    if (req.path.includes('openid-configuration')) return 'openidConfiguration';
    if (/\/keys$/.test(req.path)) return 'keys';
    return `${req.method} ${req.path}`;
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const tenant = segments[0] ?? '';
    const rest = segments.slice(1).join('/');
    if (req.method === 'GET' && rest === 'discovery/instance') return { status: 200, body: this.instanceDiscovery(req) };
    if (req.method === 'GET' && (rest === 'v2.0/.well-known/openid-configuration' || rest === '.well-known/openid-configuration')) {
      return { status: 200, body: this.openIdConfiguration(this.resolveTenantForMetadata(tenant), rest.startsWith('v2.0')) };
    }
    if (req.method === 'GET' && (rest === 'discovery/v2.0/keys' || rest === 'discovery/keys'))
      return { status: 200, body: this.tokens.jwks() };
    if (rest === 'oauth2/v2.0/token' || rest === 'oauth2/token') {
      if (req.method !== 'POST') throw new SimError(405, 'invalid_request', 'AADSTS900561: The endpoint only accepts POST requests.');
      return this.token(req, tenant, rest === 'oauth2/v2.0/token');
    }
    throw new SimError(
      404,
      'invalid_request',
      `AADSTS900144: The request path '${req.path}' is not an Entra ID endpoint served by the simulator.`,
    );
  }

  private instanceDiscovery(req: SimRequest): unknown {
    const authEndpoint = req.query.get('authorization_endpoint') ?? `${AUTHORITY}/common/oauth2/v2.0/authorize`;
    const tenant = /https:\/\/[^/]+\/([^/]+)\//.exec(authEndpoint)?.[1] ?? 'common';
    return {
      tenant_discovery_endpoint: `${AUTHORITY}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [
        {
          preferred_network: LOGIN_HOST,
          preferred_cache: 'login.windows.net',
          aliases: [LOGIN_HOST, 'login.windows.net', 'login.microsoft.com', 'sts.windows.net', 'login.windows-ppe.net'],
        },
      ],
    };
  }

  private resolveTenantForMetadata(tenant: string): string {
    if (tenant === 'common' || tenant === 'organizations') return '{tenantid}';
    if (tenant.toLowerCase() !== this.directory.tenantId.toLowerCase()) {
      throw new SimError(
        400,
        'invalid_tenant',
        `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and ` +
          `are signing into the correct cloud.`,
      );
    }
    return this.directory.tenantId;
  }

  private openIdConfiguration(tenant: string, v2: boolean): unknown {
    const base = `${AUTHORITY}/${tenant}`;
    return {
      token_endpoint: v2 ? `${base}/oauth2/v2.0/token` : `${base}/oauth2/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${AUTHORITY}/${tenant === '{tenantid}' ? 'common' : tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: v2 ? `${base}/v2.0` : `https://sts.windows.net/${tenant}/`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: v2 ? `${base}/oauth2/v2.0/authorize` : `${base}/oauth2/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: v2 ? `${base}/oauth2/v2.0/logout` : `${base}/oauth2/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  private token(req: SimRequest, tenant: string, v2: boolean): SimResponse {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.toLowerCase().includes('application/x-www-form-urlencoded')) {
      throw new SimError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'grant_type'.");
    }
    const form = new URLSearchParams(req.body.toString('utf8'));
    if (tenant.toLowerCase() === 'common' || tenant.toLowerCase() === 'organizations' || tenant.toLowerCase() === 'consumers') {
      throw new SimError(
        400,
        'invalid_request',
        `AADSTS7000216: 'client_credentials' requires a tenant: use /{tenantId}/ instead of /${tenant}/.`,
      );
    }
    if (tenant.toLowerCase() !== this.directory.tenantId.toLowerCase()) {
      throw new SimError(
        400,
        'invalid_request',
        `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and ` +
          `are signing into the correct cloud.`,
      );
    }
    const grantType = form.get('grant_type');
    if (!grantType)
      throw new SimError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'grant_type'.");
    if (grantType !== 'client_credentials') {
      throw new SimError(
        400,
        'unsupported_grant_type',
        `AADSTS70003: The app requested an unsupported grant type '${grantType}'. The simulator supports client_credentials.`,
      );
    }
    const clientId = form.get('client_id');
    if (!clientId)
      throw new SimError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'client_id'.");
    const audience = this.audienceOf(form, v2);
    const sp = this.directory.servicePrincipalByAppId(clientId);
    if (!sp || sp.servicePrincipalType !== 'Application') {
      if (this.directory.applicationByAppId(clientId)) {
        throw new SimError(
          400,
          'invalid_client',
          `AADSTS7000229: The client application ${clientId} is missing service principal in the tenant ${tenant}.`,
        );
      }
      throw new SimError(
        400,
        'unauthorized_client',
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'. ` +
          `This can happen if the application has not been installed by the administrator of the tenant or ` +
          `consented to by any user in the tenant. You may have sent your authentication request to the wrong ` +
          `tenant.`,
      );
    }
    if (!sp.accountEnabled)
      throw new SimError(400, 'unauthorized_client', `AADSTS7000112: Application '${clientId}'(${sp.displayName}) is disabled.`);
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) this.checkSecret(clientId, secret);
    else if (assertion !== null) this.checkAssertion(clientId, tenant, form.get('client_assertion_type'), assertion, req);
    else
      throw new SimError(
        401,
        'invalid_client',
        "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    const issued = this.tokens.issue(this.directory.toPrincipal(sp, audience), audience);
    if (v2)
      return {
        status: 200,
        headers: noStore(),
        body: { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.token },
      };
    const now = Math.floor(Date.now() / 1000);
    return {
      status: 200,
      headers: noStore(),
      body: {
        token_type: 'Bearer',
        expires_in: String(issued.expiresIn),
        ext_expires_in: String(issued.expiresIn),
        expires_on: String(issued.expiresOn),
        not_before: String(now),
        resource: audience,
        access_token: issued.token,
      },
    };
  }

  private audienceOf(form: URLSearchParams, v2: boolean): string {
    if (!v2) {
      const resource = form.get('resource');
      if (!resource)
        throw new SimError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'resource'.");
      return this.knownResource(resource);
    }
    const scope = form.get('scope');
    if (!scope) throw new SimError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'scope'.");
    const scopes = scope.split(/\s+/).filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
    if (scopes.length !== 1 || !scopes[0]!.endsWith('/.default')) {
      throw new SimError(
        400,
        'invalid_scope',
        `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must ` +
          `have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    return this.knownResource(scopes[0]!.slice(0, -'/.default'.length));
  }

  private knownResource(resource: string): string {
    const audience = resourceAudience(resource);
    if (!audience) {
      throw new SimError(
        400,
        'invalid_resource',
        `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ` +
          `${this.directory.tenantId}. This can happen if the application has not been installed by the ` +
          `administrator of the tenant or consented to by any user in the tenant. You might have sent your ` +
          `authentication request to the wrong tenant.`,
      );
    }
    return audience;
  }

  private checkSecret(clientId: string, secret: string): void {
    const cred = this.directory.matchPassword(clientId, secret);
    const now = this.clock.now();
    if (!cred || Date.parse(cred.startDateTime) > now) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the ` +
          `client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    if (Date.parse(cred.endDateTime) <= now) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS7000222: The provided client secret keys for app '${clientId}' are expired. Visit the Azure ` +
          `portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using ` +
          `certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    }
  }

  private checkAssertion(clientId: string, tenant: string, assertionType: string | null, assertion: string, req: SimRequest): void {
    if (assertionType !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      throw new SimError(
        400,
        'invalid_request',
        `AADSTS700023: The client_assertion_type '${assertionType ?? ''}' is not supported; use ` +
          `urn:ietf:params:oauth:client-assertion-type:jwt-bearer.`,
      );
    }
    const parts = assertion.split('.');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new SimError(400, 'invalid_request', 'AADSTS50027: JWT token is invalid or malformed.');
    }
    if (parts.length !== 3) throw new SimError(400, 'invalid_request', 'AADSTS50027: JWT token is invalid or malformed.');
    const x5tS256 = typeof header['x5t#S256'] === 'string' ? Buffer.from(header['x5t#S256'], 'base64url').toString('hex') : undefined;
    const x5t = typeof header.x5t === 'string' ? Buffer.from(header.x5t, 'base64url').toString('hex') : undefined;
    const candidates = this.directory.keyCredentialsOf(clientId);
    const key = candidates.find((k) => (x5tS256 && k.thumbprintSha256 === x5tS256) || (x5t && k.thumbprintSha1 === x5t));
    const shown = (x5tS256 ?? x5t ?? 'none').toUpperCase();
    if (!key) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered ` +
          `on application. [Reason - The key was not found., Thumbprint of key used by client: '${shown}', ` +
          `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for ` +
          `app Id '${clientId}'.]`,
      );
    }
    const alg = String(header.alg ?? '');
    if (alg !== 'RS256' && alg !== 'PS256')
      throw new SimError(401, 'invalid_client', `AADSTS5002738: Invalid JWT token. '${alg}' is not a supported signature algorithm.`);
    const publicKey = publicKeyOf(key);
    const verifier = createVerify('RSA-SHA256').update(`${parts[0]}.${parts[1]}`);
    const ok =
      alg === 'RS256'
        ? verifier.verify(publicKey, Buffer.from(parts[2]!, 'base64url'))
        : verifier.verify({ key: publicKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }, Buffer.from(parts[2]!, 'base64url'));
    if (!ok)
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was found but the ` +
          `signature does not verify., Thumbprint of key used by client: '${shown}']`,
      );
    const now = this.clock.now();
    if (Date.parse(key.endDateTime) <= now || Date.parse(key.startDateTime) > now) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS700027: Client assertion contains an invalid signature. [Reason - The key used is expired., ` +
          `Thumbprint of key used by client: '${shown}', Found key 'Start=${key.startDateTime}, ` +
          `End=${key.endDateTime}']`,
      );
    }
    const realNow = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < realNow - 300 || (typeof claims.nbf === 'number' && claims.nbf > realNow + 300)) {
      throw new SimError(401, 'invalid_client', 'AADSTS700024: Client assertion is not within its valid time range.');
    }
    if (claims.iss !== clientId || claims.sub !== clientId) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.`,
      );
    }
    const aud = String(claims.aud ?? '');
    const tokenUrls = [
      `${AUTHORITY}/${tenant}/oauth2/v2.0/token`,
      `${AUTHORITY}/${tenant}/oauth2/token`,
      `https://${req.host}/${tenant}/oauth2/v2.0/token`,
      `https://${req.host}/${tenant}/oauth2/token`,
      `${AUTHORITY}/${tenant}/v2.0`,
    ];
    if (!tokenUrls.some((u) => u.toLowerCase() === aud.toLowerCase())) {
      throw new SimError(
        401,
        'invalid_client',
        `AADSTS700016: The audience claim of the client assertion ('${aud}') must be the token endpoint ` +
          `${AUTHORITY}/${tenant}/oauth2/v2.0/token.`,
      );
    }
  }
}

/** Builds a keyCredential from a PEM or base64-DER certificate, with both thumbprints. */
export function keyCredentialFromCertificate(cert: string, options: { keyId: string; displayName?: string | null }): KeyCredential {
  const der = cert.includes('-----BEGIN') ? new X509Certificate(cert).raw : Buffer.from(cert, 'base64');
  const x509 = new X509Certificate(der);
  return {
    keyId: options.keyId,
    displayName: options.displayName ?? x509.subject.replace(/\n/g, ', '),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
    key: der.toString('base64'),
    customKeyIdentifier: createHash('sha1').update(der).digest('base64'),
    thumbprintSha1: createHash('sha1').update(der).digest('hex'),
    thumbprintSha256: createHash('sha256').update(der).digest('hex'),
    startDateTime: new Date(x509.validFrom).toISOString(),
    endDateTime: new Date(x509.validTo).toISOString(),
  };
}

function publicKeyOf(key: KeyCredential) {
  return createPublicKey(new X509Certificate(Buffer.from(key.key, 'base64')).publicKey.export({ type: 'spki', format: 'pem' }));
}

function noStore(): Record<string, string> {
  return { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' };
}

/** App Service managed-identity protocol (api-version 2019-08-01), served on the loopback port. */
export class ManagedIdentityService implements Service {
  static readonly HOST = 'managed-identity.azure-sim.local';
  readonly name = 'identity';
  readonly requiresAuth = false;

  constructor(
    private readonly directory: EntraDirectory,
    private readonly tokens: TokenIssuer,
    private readonly identityHeader: string,
    /** Object id of the function app's system-assigned identity. */
    private readonly systemAssigned: () => ServicePrincipal | undefined,
  ) {}

  matches(host: string): boolean {
    return host === ManagedIdentityService.HOST;
  }

  operationOf(): string {
    return 'managedIdentityToken';
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    if (req.method !== 'GET') throw new SimError(405, 'invalid_request', 'The managed identity endpoint only accepts GET.');
    const header = req.headers['x-identity-header'];
    if (header !== this.identityHeader)
      throw new SimError(401, 'invalid_request', 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.');
    if (req.query.get('api-version') !== '2019-08-01')
      throw new SimError(
        400,
        'invalid_request',
        `api-version '${req.query.get('api-version') ?? ''}' is not supported by the App Service identity endpoint; use 2019-08-01.`,
      );
    const resource = req.query.get('resource');
    if (!resource) throw new SimError(400, 'invalid_request', "The 'resource' query parameter is required.");
    const audience = resourceAudience(resource);
    if (!audience)
      throw new SimError(
        400,
        'invalid_resource',
        `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${this.directory.tenantId}.`,
      );
    const clientId = req.query.get('client_id');
    const principalId = req.query.get('principal_id') ?? req.query.get('object_id');
    const resourceId = req.query.get('mi_res_id') ?? req.query.get('msi_res_id');
    let sp: ServicePrincipal | undefined;
    if (clientId) sp = this.directory.servicePrincipalByAppId(clientId);
    else if (principalId) sp = this.directory.servicePrincipals.get(principalId);
    else if (resourceId)
      sp = [...this.directory.servicePrincipals.values()].find((s) =>
        s.alternativeNames.some((n) => n.toLowerCase() === resourceId.toLowerCase()),
      );
    else sp = this.systemAssigned();
    if (!sp || sp.servicePrincipalType !== 'ManagedIdentity') {
      const asked = clientId
        ? `client_id '${clientId}'`
        : principalId
          ? `principal_id '${principalId}'`
          : resourceId
            ? `mi_res_id '${resourceId}'`
            : 'the system-assigned identity (none is enabled)';
      throw new SimError(400, 'invalid_request', `No managed identity matches ${asked} for this app.`);
    }
    const issued = this.tokens.issue(this.directory.toPrincipal(sp, audience), audience);
    return {
      status: 200,
      body: { access_token: issued.token, expires_on: String(issued.expiresOn), resource, token_type: 'Bearer', client_id: sp.appId },
    };
  }
}
