/**
 * Internal contract between the simulator's parts, so they can be built and tested independently.
 *
 *  - the front end (server, CA, CONNECT proxy, auth pipeline, request log, faults, control API,
 *    Entra ID, Microsoft Graph, Key Vault data plane) — owns SimContext and mounts every Service;
 *  - the Resource Manager part (arm/), Event Grid delivery (eventgrid/) and the VM guest (guest/).
 *
 * Nothing here may import the app (core/, azure/, functions/, orchestrations/).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Who is calling, from a validated access token (or undefined for anonymous endpoints). */
export interface Principal {
  tenantId: string;
  /** Entra object id of the service principal / managed identity. */
  objectId: string;
  /** Application (client) id. */
  appId: string;
  kind: 'servicePrincipal' | 'managedIdentity' | 'platform';
  displayName: string;
  /** Audience the token was issued for, e.g. https://management.azure.com */
  audience: string;
  /** Application permissions (app role values) of the token's resource, the `roles` claim, e.g. Application.ReadWrite.OwnedBy. */
  roles?: string[];
}

export interface SimRequest {
  method: string;
  /** Lower-case host name the client addressed, e.g. management.azure.com or myvault.vault.azure.net */
  host: string;
  /** Path without the query string, percent-decoded segments left as sent. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Parsed JSON body when the content type is JSON and the body is non-empty; parse errors are answered by the pipeline. */
  json?: unknown;
  /** Set by the pipeline after token validation. */
  principal?: Principal;
  /** x-ms-request-id the pipeline assigned. */
  requestId: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as text; Buffers as is. */
  body?: unknown;
}

export interface Service {
  /** Used in the request log and for fault injection, e.g. 'arm', 'graph', 'keyvault', 'login', 'eventgrid'. */
  readonly name: string;
  /** True when this service answers for the host name. */
  matches(host: string): boolean;
  /** Whether requests need a bearer token (login does not). The pipeline answers 401 itself when missing/invalid. */
  readonly requiresAuth: boolean;
  /** Operation name for the request log, e.g. 'Microsoft.Compute/virtualMachines/read'. */
  operationOf(req: SimRequest): string;
  handle(req: SimRequest): Promise<SimResponse>;
}

/**
 * The simulator's clock. `now()` is real time (Date.now()), the one clock the app, the SDKs and the
 * simulator share. `speed` only shortens what Azure makes slow; it never moves `now()`.
 */
export interface Clock {
  /** Real time, ms since the epoch. */
  now(): number;
  /** How many times faster than in Azure slow operations finish (1 = Azure's pace). */
  readonly speed: number;
  /** Azure's duration of a slow operation, shortened by the speed-up (real ms). */
  shorten(azureMs: number): number;
  /** Waits out a slow operation that takes `azureMs` in Azure, shortened by the speed-up. */
  slowOperation(azureMs: number): Promise<void>;
}

/** Each part registers its state so the control API can snapshot/restore/reset it and persist it under --state. */
export interface StateRegistry {
  register(name: string, part: { snapshot(): unknown; restore(value: unknown): void; reset(): void }): void;
}

export interface AccessPolicyEntry {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: { keys?: string[]; secrets?: string[]; certificates?: string[]; storage?: string[] };
}

/** Key Vault as Resource Manager knows it; the data plane enforces its flags and access policies. */
export interface VaultRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tenantId: string;
  vaultUri: string;
  enabledForDiskEncryption: boolean;
  enabledForDeployment: boolean;
  enabledForTemplateDeployment: boolean;
  enableSoftDelete: boolean;
  softDeleteRetentionInDays: number;
  enablePurgeProtection: boolean;
  enableRbacAuthorization: boolean;
  accessPolicies: AccessPolicyEntry[];
  tags: Record<string, string>;
}

/** Implemented by arm/: the data plane looks vaults up by name (vault names are global). */
export interface VaultDirectory {
  findVault(name: string): VaultRecord | undefined;
}

/** Implemented by the Key Vault data plane, for the platform (single-pass ADE, BEK restore at boot). */
export interface KeyVaultPlatform {
  /** Platform write of a disk secret; throws SimError(403) unless the vault has enabledForDiskEncryption. */
  setSecretAsPlatform(
    vaultName: string,
    secretName: string,
    value: string,
    tags: Record<string, string>,
    contentType: string,
  ): { id: string; version: string };
  /** Platform read of a disk secret by full URL; throws SimError(403/404) like Azure would fail it. */
  getSecretAsPlatform(secretUrl: string): { value: string; tags: Record<string, string> };
  /** Platform wrap with a KEK by full key URL (RSA-OAEP, real crypto). */
  wrapKeyAsPlatform(keyUrl: string, algorithm: string, plaintext: Buffer): Buffer;
  /** Platform unwrap with a KEK by full key URL. */
  unwrapKeyAsPlatform(keyUrl: string, algorithm: string, wrapped: Buffer): Buffer;
  /**
   * Optional: drops every secret and key of a vault. arm/ calls it when a vault is purged (or its retention
   * expires), so a new vault with the same name starts empty as in Azure.
   */
  forgetVault?(vaultName: string): void;
}

/** Event Grid schema event as delivered to subscribers. */
export interface GridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: unknown;
  dataVersion: string;
  metadataVersion: '1';
}

/** Implemented by eventgrid/: routes events from a source (ARM id of a subscription, vault, ...) to subscribers. */
export interface EventBus {
  /** `source` is the ARM id of the system topic's source resource, e.g. `/subscriptions/<id>` or a vault id. */
  publish(source: string, events: GridEvent[]): void;
}

/** Azure RBAC evaluation, implemented by arm/ (role assignments and definitions live there). */
export interface Authorization {
  /** Whether the principal's role assignments at the scope or above grant the action (or data action). */
  allows(principalId: string, operation: string, scope: string, kind: 'action' | 'dataAction'): boolean;
}

/** Entra directory, implemented by the front end's Entra part; ARM and Key Vault look principals up here. */
export interface Directory {
  tenantId: string;
  findByObjectId(objectId: string): Principal | undefined;
  findByAppId(appId: string): Principal | undefined;
}

/** In-process request through the full pipeline (auth, log, faults, throttling), as a real client would send it. */
export interface DispatchRequest {
  method: string;
  /** Absolute https URL, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token */
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
export interface DispatchResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json?: unknown;
}

export interface SimContext {
  clock: Clock;
  state: StateRegistry;
  directory: Directory;
  /** Set once arm/ is mounted. */
  vaults: VaultDirectory;
  /** Set once the Key Vault data plane is mounted. */
  keyVaultPlatform: KeyVaultPlatform;
  /** Set once eventgrid/ is mounted. */
  events: EventBus;
  /** Set once arm/ is mounted; without it every RBAC data-plane check is refused. */
  authorization?: Authorization;
  /** Used by the guest (the ADE extension is a client of the simulator's own APIs). */
  dispatch(req: DispatchRequest): Promise<DispatchResponse>;
  /** Structured debug log of the simulator (not the request log). */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

/** Error a handler throws to answer with a service-shaped error envelope. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SimError';
  }
}
