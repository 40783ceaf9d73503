/**
 * Key Vault data plane (<vault>.vault.azure.net, api-version 7.x): secrets and keys with versions,
 * soft delete / recover / purge, RSA-OAEP wrap/unwrap with real cryptography, access policies
 * enforced per principal and permission, vault flags, Key Vault's error envelope and service
 * limits, and Key Vault events. Also the KeyVaultPlatform the VM guest uses for single-pass ADE.
 *
 * Follows https://learn.microsoft.com/rest/api/keyvault/ (secrets, keys), the soft-delete overview
 * and https://learn.microsoft.com/azure/key-vault/general/service-limits.
 */
import { randomUUID } from 'node:crypto';
import type {
  AccessPolicyEntry,
  KeyVaultPlatform,
  Principal,
  Service,
  SimContext,
  SimRequest,
  SimResponse,
  VaultRecord,
} from '../contract';
import { SimError } from '../contract';
import {
  KEY_OPS_ALL,
  WRAP_ALGORITHMS,
  generateRsa,
  importRsaJwk,
  latest,
  newVersion,
  unwrap,
  wrap,
  type KeyVersion,
  type SecretVersion,
  type StoredObject,
  type VaultObjects,
  type WrapAlgorithm,
} from './store';

const VAULT_HOST = /^([a-z0-9-]{3,24})\.vault\.azure\.net$/;
const OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION = /^[0-9a-f]{32}$/i;
/** 7.0-7.6 and the date-based versions newer SDKs send (e.g. 2025-07-01). */
const SUPPORTED_API_VERSIONS = /^(7\.[0-6](-preview(\.\d+)?)?|2016-10-01|20(2[4-9]|3\d)-\d\d-\d\d(-preview)?)$/;
const MAX_SECRET_BYTES = 25 * 1024;
const MAX_TAGS = 15;
const PAGE_SIZE = 25;
/** Data actions of the RBAC permission model (https://learn.microsoft.com/azure/role-based-access-control/permissions/security#microsoftkeyvault). */
const SECRET_DATA_ACTIONS: Record<SecretPermission, string> = {
  get: 'getSecret/action',
  list: 'readMetadata/action',
  set: 'setSecret/action',
  delete: 'delete',
  recover: 'recover/action',
  backup: 'backup/action',
  restore: 'restore/action',
  purge: 'purge/action',
};
const KEY_DATA_ACTIONS: Record<KeyPermission, string> = {
  get: 'read',
  list: 'read',
  create: 'create/action',
  update: 'update/action',
  import: 'import/action',
  delete: 'delete',
  recover: 'recover/action',
  backup: 'backup/action',
  restore: 'restore/action',
  purge: 'purge/action',
  encrypt: 'encrypt/action',
  decrypt: 'decrypt/action',
  wrapKey: 'wrap/action',
  unwrapKey: 'unwrap/action',
  sign: 'sign/action',
  verify: 'verify/action',
};

const HELP_403 = 'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287';
/** The resource part of the bearer challenge Key Vault answers 401 with. */
const VAULT_RESOURCE = 'resource="https://vault.azure.net"';

type SecretPermission = 'get' | 'list' | 'set' | 'delete' | 'recover' | 'backup' | 'restore' | 'purge';
type KeyPermission =
  | 'get'
  | 'list'
  | 'create'
  | 'update'
  | 'import'
  | 'delete'
  | 'recover'
  | 'backup'
  | 'restore'
  | 'purge'
  | 'encrypt'
  | 'decrypt'
  | 'wrapKey'
  | 'unwrapKey'
  | 'sign'
  | 'verify';

/** Per-vault transaction limits per 10 seconds (service-limits page). */
export interface KeyVaultLimits {
  enabled: boolean;
  windowMs: number;
  secretWrites: number;
  keyCreates: number;
  otherOperations: number;
}

export const DEFAULT_KV_LIMITS: KeyVaultLimits = {
  enabled: true,
  windowMs: 10_000,
  secretWrites: 300,
  keyCreates: 20,
  otherOperations: 4000,
};

interface Counter {
  windowStart: number;
  secretWrites: number;
  keyCreates: number;
  other: number;
}

interface Route {
  operation: string;
  run: () => Promise<SimResponse> | SimResponse;
}

export class KeyVaultService implements Service, KeyVaultPlatform {
  readonly name = 'keyvault';
  readonly requiresAuth = true;
  private objects = new Map<string, VaultObjects>();
  /** Vaults created through the control API when no Resource Manager part is mounted (tests). */
  private localVaults = new Map<string, VaultRecord>();
  private limits: KeyVaultLimits = { ...DEFAULT_KV_LIMITS };
  private counters = new Map<string, Counter>();

  constructor(
    private readonly ctx: SimContext,
    private readonly armMounted: () => boolean = () => true,
  ) {
    ctx.state.register('keyvault', {
      snapshot: () => ({ objects: Object.fromEntries(this.objects), localVaults: [...this.localVaults.values()], limits: this.limits }),
      restore: (v) => {
        const s = structuredClone(v) as { objects: Record<string, VaultObjects>; localVaults: VaultRecord[]; limits?: KeyVaultLimits };
        this.objects = new Map(Object.entries(s.objects ?? {}));
        this.localVaults = new Map((s.localVaults ?? []).map((r) => [r.name.toLowerCase(), r]));
        this.limits = { ...DEFAULT_KV_LIMITS, ...(s.limits ?? {}) };
        this.counters.clear();
      },
      reset: () => {
        this.objects.clear();
        this.localVaults.clear();
        this.limits = { ...DEFAULT_KV_LIMITS };
        this.counters.clear();
      },
    });
  }

  findVault(name: string): VaultRecord | undefined {
    const key = name.toLowerCase();
    return this.ctx.vaults.findVault(key) ?? this.localVaults.get(key);
  }

  matches(host: string): boolean {
    const m = VAULT_HOST.exec(host);
    return Boolean(m && this.findVault(m[1]!));
  }

  operationOf(req: SimRequest): string {
    try {
      return this.route(req, true).operation;
    } catch {
      return `${req.method} ${req.path}`;
    }
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const route = this.route(req, false);
    return route.run();
  }

  // ------------------------------------------------------------------ routing

  private route(req: SimRequest, dryRun: boolean): Route {
    const seg = req.path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    const m = req.method;
    const vaultName = VAULT_HOST.exec(req.host)?.[1] ?? '';
    const guard = (
      operation: string,
      perm: { secrets?: SecretPermission; keys?: KeyPermission },
      run: (vault: VaultRecord, principal: Principal) => Promise<SimResponse> | SimResponse,
    ): Route => ({
      operation,
      run: () => {
        if (dryRun) throw new Error('dry run');
        const vault = this.requireVault(vaultName);
        this.requireApiVersion(req);
        const principal = req.principal!;
        this.authorize(vault, principal, perm);
        this.throttle(vault, operation);
        return run(vault, principal);
      },
    });
    const [collection, name, third, fourth] = seg;
    if (collection === 'secrets') {
      if (seg.length === 1 && m === 'GET') return guard('SecretList', { secrets: 'list' }, (v) => this.listSecrets(v, req));
      if (name !== undefined) {
        if (seg.length === 2 && m === 'PUT') return guard('SecretSet', { secrets: 'set' }, (v) => this.setSecret(v, name, req));
        if (seg.length === 2 && m === 'DELETE')
          return guard('SecretDelete', { secrets: 'delete' }, (v) => this.deleteObject(v, 'secrets', name));
        if (seg.length === 3 && third === 'versions' && m === 'GET')
          return guard('SecretListVersions', { secrets: 'list' }, (v) => this.listSecretVersions(v, name, req));
        if (seg.length <= 3 && m === 'GET') return guard('SecretGet', { secrets: 'get' }, (v) => this.getSecret(v, name, third));
        if (seg.length <= 3 && m === 'PATCH')
          return guard('SecretUpdate', { secrets: 'set' }, (v) => this.updateSecret(v, name, third, req));
      }
    }
    if (collection === 'deletedsecrets') {
      if (seg.length === 1 && m === 'GET')
        return guard('DeletedSecretList', { secrets: 'list' }, (v) => this.listDeleted(v, 'secrets', req));
      if (seg.length === 2 && m === 'GET')
        return guard('DeletedSecretGet', { secrets: 'list' }, (v) => this.getDeleted(v, 'secrets', name!));
      if (seg.length === 2 && m === 'DELETE')
        return guard('DeletedSecretPurge', { secrets: 'purge' }, (v) => this.purge(v, 'secrets', name!));
      if (seg.length === 3 && third === 'recover' && m === 'POST')
        return guard('DeletedSecretRecover', { secrets: 'recover' }, (v) => this.recover(v, 'secrets', name!));
    }
    if (collection === 'keys') {
      if (seg.length === 1 && m === 'GET') return guard('KeyList', { keys: 'list' }, (v) => this.listKeys(v, req));
      if (name !== undefined) {
        if (seg.length === 3 && third === 'create' && m === 'POST')
          return guard('KeyCreate', { keys: 'create' }, (v) => this.createKey(v, name, req));
        if (seg.length === 2 && m === 'PUT') return guard('KeyImport', { keys: 'import' }, (v) => this.importKey(v, name, req));
        if (seg.length === 2 && m === 'DELETE') return guard('KeyDelete', { keys: 'delete' }, (v) => this.deleteObject(v, 'keys', name));
        if (seg.length === 3 && third === 'versions' && m === 'GET')
          return guard('KeyListVersions', { keys: 'list' }, (v) => this.listKeyVersions(v, name, req));
        const op = (seg.length === 3 ? third : seg.length === 4 ? fourth : undefined)?.toLowerCase();
        const version = seg.length === 4 ? third : undefined;
        const cryptoOps: Record<string, KeyPermission> = {
          wrapkey: 'wrapKey',
          unwrapkey: 'unwrapKey',
          encrypt: 'encrypt',
          decrypt: 'decrypt',
        };
        if (m === 'POST' && op && cryptoOps[op]) {
          const perm = cryptoOps[op];
          return guard(`Key${perm[0]!.toUpperCase()}${perm.slice(1)}`, { keys: perm }, (v) => this.keyCrypto(v, name, version, perm, req));
        }
        if (seg.length <= 3 && m === 'GET') return guard('KeyGet', { keys: 'get' }, (v) => this.getKey(v, name, third));
        if (seg.length <= 3 && m === 'PATCH') return guard('KeyUpdate', { keys: 'update' }, (v) => this.updateKey(v, name, third, req));
      }
    }
    if (collection === 'deletedkeys') {
      if (seg.length === 1 && m === 'GET') return guard('DeletedKeyList', { keys: 'list' }, (v) => this.listDeleted(v, 'keys', req));
      if (seg.length === 2 && m === 'GET') return guard('DeletedKeyGet', { keys: 'get' }, (v) => this.getDeleted(v, 'keys', name!));
      if (seg.length === 2 && m === 'DELETE') return guard('DeletedKeyPurge', { keys: 'purge' }, (v) => this.purge(v, 'keys', name!));
      if (seg.length === 3 && third === 'recover' && m === 'POST')
        return guard('DeletedKeyRecover', { keys: 'recover' }, (v) => this.recover(v, 'keys', name!));
    }
    return {
      operation: `${m} unknown`,
      run: () => {
        if (dryRun) throw new Error('dry run');
        this.requireApiVersion(req);
        throw new SimError(
          400,
          'BadParameter',
          `The request URI '${req.path}' with method ${m} is not a Key Vault data-plane operation the ` +
            `simulator knows (secrets, deletedsecrets, keys, deletedkeys).`,
        );
      },
    };
  }

  // ------------------------------------------------------------------ checks

  private requireVault(name: string): VaultRecord {
    const vault = this.findVault(name);
    if (!vault) throw new SimError(404, 'VaultNotFound', `The vault '${name}' does not exist.`);
    return vault;
  }

  private requireApiVersion(req: SimRequest): void {
    const v = req.query.get('api-version');
    if (!v) throw new SimError(400, 'BadParameter', "The 'api-version' query parameter is missing.");
    if (!SUPPORTED_API_VERSIONS.test(v))
      throw new SimError(
        400,
        'BadParameter',
        `The specified version (${v}) is not recognized. Consider using the latest supported version (7.5).`,
      );
  }

  private authorize(vault: VaultRecord, principal: Principal, need: { secrets?: SecretPermission; keys?: KeyPermission }): void {
    if (principal.tenantId.toLowerCase() !== vault.tenantId.toLowerCase()) {
      throw new SimError(
        401,
        'Unauthorized',
        `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${vault.tenantId}/, found ` +
          `https://sts.windows.net/${principal.tenantId}/.`,
        {
          'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${vault.tenantId}", ${VAULT_RESOURCE}`,
        },
      );
    }
    const [kind, perm] = need.secrets ? (['secrets', need.secrets] as const) : (['keys', need.keys!] as const);
    // RBAC-authorized vaults ignore access policies and evaluate the caller's data actions
    // (https://learn.microsoft.com/azure/key-vault/general/rbac-guide).
    if (vault.enableRbacAuthorization) {
      const dataAction = kind === 'secrets' ? SECRET_DATA_ACTIONS[perm as SecretPermission] : KEY_DATA_ACTIONS[perm as KeyPermission];
      const action = `Microsoft.KeyVault/vaults/${kind}/${dataAction}`;
      if (this.ctx.authorization?.allows(principal.objectId, action, vault.id, 'dataAction')) return;
      throw new SimError(
        403,
        'Forbidden/ForbiddenByRbac',
        `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${principal.appId};oid=${principal.objectId};iss=https://sts.windows.net/${principal.tenantId}/\r\nAction: '${action}'\r\nResource: '${vault.id.toLowerCase()}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: ${vault.name};location=${vault.location}\r\n`,
      );
    }
    if (hasPermission(vault.accessPolicies, principal, kind, perm)) return;
    throw new SimError(
      403,
      'Forbidden/AccessDenied',
      `The user, group or application ` +
        `'appid=${principal.appId};oid=${principal.objectId};iss=https://sts.windows.net/${principal.tenantId}/' ` +
        `does not have ${kind} ${perm.toLowerCase()} permission on key vault ` +
        `'${vault.name};location=${vault.location}'. ${HELP_403}`,
    );
  }

  private throttle(vault: VaultRecord, operation: string): void {
    if (!this.limits.enabled) return;
    const now = this.ctx.clock.now();
    const key = vault.name.toLowerCase();
    let c = this.counters.get(key);
    if (!c || now - c.windowStart >= this.limits.windowMs) {
      c = { windowStart: now, secretWrites: 0, keyCreates: 0, other: 0 };
      this.counters.set(key, c);
    }
    const retry = () => {
      const seconds = Math.max(1, Math.ceil((c.windowStart + this.limits.windowMs - now) / 1000));
      return new SimError(
        429,
        'Throttled',
        `Request was not processed because too many requests were received. Reason: A Key Vault service ` +
          `limit has been reached for vault '${vault.name}' (${operation}). Please retry after ${seconds} ` +
          `seconds. https://learn.microsoft.com/azure/key-vault/general/service-limits`,
        { 'retry-after': String(seconds) },
      );
    };
    if (operation === 'SecretSet') {
      if (++c.secretWrites > this.limits.secretWrites) throw retry();
    } else if (operation === 'KeyCreate' || operation === 'KeyImport') {
      if (++c.keyCreates > this.limits.keyCreates) throw retry();
    } else if (++c.other > this.limits.otherOperations) {
      throw retry();
    }
  }

  // ------------------------------------------------------------------ objects

  private vaultObjects(vault: VaultRecord): VaultObjects {
    const key = vault.name.toLowerCase();
    let objects = this.objects.get(key);
    if (!objects) {
      objects = { secrets: {}, keys: {} };
      this.objects.set(key, objects);
    }
    this.expireDeleted(objects);
    return objects;
  }

  /** Soft-deleted objects past their scheduled purge date disappear (real time). */
  private expireDeleted(objects: VaultObjects): void {
    const nowSec = this.nowSec();
    for (const kind of ['secrets', 'keys'] as const) {
      for (const [k, obj] of Object.entries(objects[kind]))
        if (obj.deleted && obj.deleted.scheduledPurgeDate <= nowSec) delete objects[kind][k];
    }
  }

  private nowSec(): number {
    return Math.floor(this.ctx.clock.now() / 1000);
  }

  private base(vault: VaultRecord): string {
    return (vault.vaultUri || `https://${vault.name}.vault.azure.net/`).replace(/\/+$/, '');
  }

  private recoveryLevel(vault: VaultRecord): string {
    if (!vault.enableSoftDelete) return 'Purgeable';
    return vault.enablePurgeProtection ? 'Recoverable' : 'Recoverable+Purgeable';
  }

  private attributes(
    vault: VaultRecord,
    v: { enabled: boolean; nbf?: number; exp?: number; created: number; updated: number },
    extra: Record<string, unknown> = {},
  ) {
    return {
      enabled: v.enabled,
      ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
      ...(v.exp !== undefined ? { exp: v.exp } : {}),
      created: v.created,
      updated: v.updated,
      recoveryLevel: this.recoveryLevel(vault),
      ...(vault.enableSoftDelete ? { recoverableDays: vault.softDeleteRetentionInDays } : {}),
      ...extra,
    };
  }

  private liveObject<V>(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): StoredObject<V> {
    validName(kind, name);
    const obj = this.vaultObjects(vault)[kind][name.toLowerCase()] as StoredObject<V> | undefined;
    if (!obj || obj.deleted) throw notFound(kind, name);
    return obj;
  }

  private version<V extends { version: string }>(obj: StoredObject<V>, kind: 'secrets' | 'keys', version: string | undefined): V {
    if (!version) return obj.versions[obj.versions.length - 1]!;
    const v = obj.versions.find((x) => x.version.toLowerCase() === version.toLowerCase());
    if (!v) throw notFound(kind, `${obj.name}/${version}`);
    return v;
  }

  // ------------------------------------------------------------------ secrets

  private secretBundle(vault: VaultRecord, name: string, v: SecretVersion, withValue: boolean) {
    return {
      ...(withValue ? { value: v.value } : {}),
      ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
      id: `${this.base(vault)}/secrets/${name}/${v.version}`,
      attributes: this.attributes(vault, v),
      ...(v.tags ? { tags: v.tags } : {}),
    };
  }

  private setSecret(vault: VaultRecord, name: string, req: SimRequest): SimResponse {
    validName('secrets', name);
    const body = objectBody(req);
    if (typeof body.value !== 'string') throw new SimError(400, 'BadParameter', "Property 'value' is required and must be a string.");
    if (Buffer.byteLength(body.value, 'utf8') > MAX_SECRET_BYTES)
      throw new SimError(400, 'BadParameter', `Secret value is too large: the maximum size is ${MAX_SECRET_BYTES} bytes.`);
    const v = this.createSecretVersion(
      vault,
      name,
      body.value,
      tagsOf(body.tags),
      optionalStringField(body, 'contentType'),
      attributesOf(body.attributes),
    );
    return { status: 200, body: this.secretBundle(vault, this.vaultObjects(vault).secrets[name.toLowerCase()]!.name, v, true) };
  }

  private createSecretVersion(
    vault: VaultRecord,
    name: string,
    value: string,
    tags: Record<string, string> | undefined,
    contentType: string | undefined,
    attrs: Partial<Pick<SecretVersion, 'enabled' | 'nbf' | 'exp'>>,
  ): SecretVersion {
    const objects = this.vaultObjects(vault);
    const key = name.toLowerCase();
    let obj = objects.secrets[key];
    if (obj?.deleted)
      throw new SimError(
        409,
        'Conflict/ObjectIsDeletedButRecoverable',
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in ` +
          `this state, the secret can only be recovered or purged.`,
      );
    if (!obj) {
      obj = { name, versions: [] };
      objects.secrets[key] = obj;
    }
    const now = this.nowSec();
    const v: SecretVersion = {
      version: newVersion(),
      value,
      contentType,
      tags,
      enabled: attrs.enabled ?? true,
      nbf: attrs.nbf,
      exp: attrs.exp,
      created: now,
      updated: now,
    };
    obj.versions.push(v);
    this.publish(vault, 'SecretNewVersionCreated', 'Secret', obj.name, v);
    return v;
  }

  private getSecret(vault: VaultRecord, name: string, version: string | undefined): SimResponse {
    const obj = this.liveObject<SecretVersion>(vault, 'secrets', name);
    const v = this.version(obj, 'secrets', version);
    if (!v.enabled) throw new SimError(403, 'Forbidden/SecretDisabled', 'Operation get is not allowed on a disabled secret.');
    return { status: 200, body: this.secretBundle(vault, obj.name, v, true) };
  }

  private updateSecret(vault: VaultRecord, name: string, version: string | undefined, req: SimRequest): SimResponse {
    const obj = this.liveObject<SecretVersion>(vault, 'secrets', name);
    const v = this.version(obj, 'secrets', version);
    const body = objectBody(req);
    if (body.contentType !== undefined) v.contentType = optionalStringField(body, 'contentType');
    if (body.tags !== undefined) v.tags = tagsOf(body.tags);
    Object.assign(v, definedOnly(attributesOf(body.attributes)));
    v.updated = this.nowSec();
    return { status: 200, body: this.secretBundle(vault, obj.name, v, false) };
  }

  private listSecrets(vault: VaultRecord, req: SimRequest): SimResponse {
    const items = Object.values(this.vaultObjects(vault).secrets)
      .filter((o) => !o.deleted)
      .map((o) => {
        const v = latest(o);
        return {
          id: `${this.base(vault)}/secrets/${o.name}`,
          attributes: this.attributes(vault, v),
          ...(v.tags ? { tags: v.tags } : {}),
          ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
        };
      });
    return this.page(vault, req, '/secrets', items);
  }

  private listSecretVersions(vault: VaultRecord, name: string, req: SimRequest): SimResponse {
    const obj = this.liveObject<SecretVersion>(vault, 'secrets', name);
    const items = obj.versions.map((v) => ({
      id: `${this.base(vault)}/secrets/${obj.name}/${v.version}`,
      attributes: this.attributes(vault, v),
      ...(v.tags ? { tags: v.tags } : {}),
      ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    }));
    return this.page(vault, req, `/secrets/${obj.name}/versions`, items);
  }

  // ------------------------------------------------------------------ keys

  private keyBundle(vault: VaultRecord, name: string, v: KeyVersion) {
    return {
      key: { kid: `${this.base(vault)}/keys/${name}/${v.version}`, kty: v.kty, key_ops: v.keyOps, n: v.n, e: v.e },
      attributes: this.attributes(vault, v, { exportable: false }),
      ...(v.tags ? { tags: v.tags } : {}),
    };
  }

  private async createKey(vault: VaultRecord, name: string, req: SimRequest): Promise<SimResponse> {
    validName('keys', name);
    const body = objectBody(req);
    const kty = body.kty;
    if (kty !== 'RSA' && kty !== 'RSA-HSM') {
      throw new SimError(400, 'BadParameter', `Key type '${String(kty)}' is not supported by the simulator; use RSA or RSA-HSM.`);
    }
    const keySize = body.key_size === undefined ? 2048 : body.key_size;
    if (keySize !== 2048 && keySize !== 3072 && keySize !== 4096)
      throw new SimError(400, 'BadParameter', `Invalid key size ${String(keySize)}; RSA keys are 2048, 3072 or 4096 bits.`);
    const exponent = body.public_exponent === undefined ? 65537 : body.public_exponent;
    if (exponent !== 65537 && exponent !== 3) throw new SimError(400, 'BadParameter', `Invalid public exponent ${String(exponent)}.`);
    this.refuseIfDeleted(vault, name);
    const material = await generateRsa(keySize, exponent);
    const v = this.storeKeyVersion(vault, name, kty, keySize, material, body);
    return { status: 200, body: this.keyBundle(vault, this.vaultObjects(vault).keys[name.toLowerCase()]!.name, v) };
  }

  private importKey(vault: VaultRecord, name: string, req: SimRequest): SimResponse {
    validName('keys', name);
    const body = objectBody(req);
    const jwk = body.key as Record<string, unknown> | undefined;
    if (!jwk || typeof jwk !== 'object') throw new SimError(400, 'BadParameter', "Property 'key' (a JSON web key) is required.");
    if (jwk.kty !== 'RSA' && jwk.kty !== 'RSA-HSM')
      throw new SimError(400, 'BadParameter', `Key type '${String(jwk.kty)}' is not supported by the simulator; import RSA keys.`);
    let material;
    try {
      material = importRsaJwk(jwk);
    } catch (err) {
      throw new SimError(400, 'BadParameter', `The key is not a valid RSA private JSON web key: ${(err as Error).message}`);
    }
    this.refuseIfDeleted(vault, name);
    const kty = body.Hsm === true || jwk.kty === 'RSA-HSM' ? 'RSA-HSM' : 'RSA';
    const v = this.storeKeyVersion(vault, name, kty, material.bits, material, {
      key_ops: jwk.key_ops,
      attributes: body.attributes,
      tags: body.tags,
    });
    return { status: 200, body: this.keyBundle(vault, this.vaultObjects(vault).keys[name.toLowerCase()]!.name, v) };
  }

  private refuseIfDeleted(vault: VaultRecord, name: string): void {
    if (this.vaultObjects(vault).keys[name.toLowerCase()]?.deleted) {
      throw new SimError(
        409,
        'Conflict/ObjectIsDeletedButRecoverable',
        `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this ` +
          `state, the key can only be recovered or purged.`,
      );
    }
  }

  private storeKeyVersion(
    vault: VaultRecord,
    name: string,
    kty: 'RSA' | 'RSA-HSM',
    keySize: number,
    material: { privatePem: string; n: string; e: string },
    body: Record<string, unknown>,
  ): KeyVersion {
    const objects = this.vaultObjects(vault);
    const key = name.toLowerCase();
    let obj = objects.keys[key];
    if (!obj) {
      obj = { name, versions: [] };
      objects.keys[key] = obj;
    }
    const keyOps = keyOpsOf(body.key_ops);
    const attrs = attributesOf(body.attributes);
    const now = this.nowSec();
    const v: KeyVersion = {
      version: newVersion(),
      kty,
      keySize,
      keyOps,
      privatePem: material.privatePem,
      n: material.n,
      e: material.e,
      tags: tagsOf(body.tags),
      enabled: attrs.enabled ?? true,
      nbf: attrs.nbf,
      exp: attrs.exp,
      created: now,
      updated: now,
    };
    obj.versions.push(v);
    this.publish(vault, 'KeyNewVersionCreated', 'Key', obj.name, v);
    return v;
  }

  private getKey(vault: VaultRecord, name: string, version: string | undefined): SimResponse {
    const obj = this.liveObject<KeyVersion>(vault, 'keys', name);
    return { status: 200, body: this.keyBundle(vault, obj.name, this.version(obj, 'keys', version)) };
  }

  private updateKey(vault: VaultRecord, name: string, version: string | undefined, req: SimRequest): SimResponse {
    const obj = this.liveObject<KeyVersion>(vault, 'keys', name);
    const v = this.version(obj, 'keys', version);
    const body = objectBody(req);
    if (body.key_ops !== undefined) v.keyOps = keyOpsOf(body.key_ops);
    if (body.tags !== undefined) v.tags = tagsOf(body.tags);
    Object.assign(v, definedOnly(attributesOf(body.attributes)));
    v.updated = this.nowSec();
    return { status: 200, body: this.keyBundle(vault, obj.name, v) };
  }

  private listKeys(vault: VaultRecord, req: SimRequest): SimResponse {
    const items = Object.values(this.vaultObjects(vault).keys)
      .filter((o) => !o.deleted)
      .map((o) => {
        const v = latest(o);
        return {
          kid: `${this.base(vault)}/keys/${o.name}`,
          attributes: this.attributes(vault, v, { exportable: false }),
          ...(v.tags ? { tags: v.tags } : {}),
        };
      });
    return this.page(vault, req, '/keys', items);
  }

  private listKeyVersions(vault: VaultRecord, name: string, req: SimRequest): SimResponse {
    const obj = this.liveObject<KeyVersion>(vault, 'keys', name);
    const items = obj.versions.map((v) => ({
      kid: `${this.base(vault)}/keys/${obj.name}/${v.version}`,
      attributes: this.attributes(vault, v, { exportable: false }),
      ...(v.tags ? { tags: v.tags } : {}),
    }));
    return this.page(vault, req, `/keys/${obj.name}/versions`, items);
  }

  private keyCrypto(vault: VaultRecord, name: string, version: string | undefined, op: KeyPermission, req: SimRequest): SimResponse {
    const obj = this.liveObject<KeyVersion>(vault, 'keys', name);
    const v = this.version(obj, 'keys', version);
    const body = objectBody(req);
    const alg = body.alg;
    if (typeof alg !== 'string' || !(WRAP_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new SimError(400, 'BadParameter', `Invalid algorithm '${String(alg)}'; RSA keys support ${WRAP_ALGORITHMS.join(', ')}.`);
    }
    if (typeof body.value !== 'string') throw new SimError(400, 'BadParameter', "Property 'value' (base64url) is required.");
    const input = Buffer.from(body.value, 'base64url');
    const kid = `${this.base(vault)}/keys/${obj.name}/${v.version}`;
    const out = this.applyKeyOperation(v, op, alg as WrapAlgorithm, input);
    return { status: 200, body: { kid, value: out.toString('base64url') } };
  }

  private applyKeyOperation(v: KeyVersion, op: KeyPermission, alg: WrapAlgorithm, input: Buffer): Buffer {
    const nowSec = this.nowSec();
    if (!v.enabled) throw new SimError(403, 'Forbidden/KeyDisabled', `Operation ${op} is not allowed on a disabled key.`);
    if ((v.exp !== undefined && v.exp <= nowSec) || (v.nbf !== undefined && v.nbf > nowSec))
      throw new SimError(403, 'Forbidden/KeyExpired', `Operation ${op} is not allowed on an expired or not-yet-valid key.`);
    if (!v.keyOps.some((k) => k.toLowerCase() === op.toLowerCase()))
      throw new SimError(
        403,
        'Forbidden/KeyOperationForbidden',
        `Operation ${op} is not permitted on this key (key_ops: ${v.keyOps.join(', ')}).`,
      );
    const encrypting = op === 'wrapKey' || op === 'encrypt';
    try {
      return encrypting ? wrap(v, alg, input) : unwrap(v, alg, input);
    } catch (err) {
      const reason = encrypting
        ? 'the value is too long for the key and algorithm'
        : 'the value was not produced by this key with this algorithm';
      throw new SimError(400, 'BadParameter', `${op} failed: ${reason} (${(err as Error).message.split('\n')[0]}).`);
    }
  }

  // ------------------------------------------------------------------ soft delete

  private deleteObject(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): SimResponse {
    const obj = this.liveObject<SecretVersion | KeyVersion>(vault, kind, name);
    const objects = this.vaultObjects(vault);
    const latestVersion = latest(obj);
    const bundle =
      kind === 'secrets'
        ? this.secretBundle(vault, obj.name, latestVersion as SecretVersion, false)
        : this.keyBundle(vault, obj.name, latestVersion as KeyVersion);
    if (!vault.enableSoftDelete) {
      delete objects[kind][name.toLowerCase()];
      return { status: 200, body: bundle };
    }
    const now = this.nowSec();
    obj.deleted = { deletedDate: now, scheduledPurgeDate: now + vault.softDeleteRetentionInDays * 86_400 };
    return { status: 200, body: { ...this.deletedFields(vault, kind, obj), ...bundle } };
  }

  private deletedFields(vault: VaultRecord, kind: 'secrets' | 'keys', obj: StoredObject<unknown>) {
    return {
      recoveryId: `${this.base(vault)}/deleted${kind}/${obj.name}`,
      deletedDate: obj.deleted!.deletedDate,
      scheduledPurgeDate: obj.deleted!.scheduledPurgeDate,
    };
  }

  private deletedObject(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): StoredObject<SecretVersion | KeyVersion> {
    validName(kind, name);
    const obj = this.vaultObjects(vault)[kind][name.toLowerCase()];
    if (!obj?.deleted)
      throw new SimError(
        404,
        kind === 'secrets' ? 'SecretNotFound' : 'KeyNotFound',
        `Deleted ${kind === 'secrets' ? 'Secret' : 'Key'} not found`,
      );
    return obj;
  }

  private getDeleted(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): SimResponse {
    const obj = this.deletedObject(vault, kind, name);
    const v = latest(obj);
    const bundle =
      kind === 'secrets' ? this.secretBundle(vault, obj.name, v as SecretVersion, false) : this.keyBundle(vault, obj.name, v as KeyVersion);
    return { status: 200, body: { ...this.deletedFields(vault, kind, obj), ...bundle } };
  }

  private listDeleted(vault: VaultRecord, kind: 'secrets' | 'keys', req: SimRequest): SimResponse {
    const items = Object.values(this.vaultObjects(vault)[kind] as Record<string, StoredObject<SecretVersion | KeyVersion>>)
      .filter((o) => o.deleted)
      .map((o) => {
        const v = latest(o);
        const idField =
          kind === 'secrets' ? { id: `${this.base(vault)}/secrets/${o.name}` } : { kid: `${this.base(vault)}/keys/${o.name}` };
        return {
          ...this.deletedFields(vault, kind, o),
          ...idField,
          attributes: this.attributes(vault, v),
          ...(v.tags ? { tags: v.tags } : {}),
        };
      });
    return this.page(vault, req, `/deleted${kind}`, items);
  }

  private purge(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): SimResponse {
    const obj = this.deletedObject(vault, kind, name);
    if (vault.enablePurgeProtection) {
      throw new SimError(
        403,
        'Forbidden/PurgeProtected',
        `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault ` +
          `service will automatically purge it after the retention period has passed.`,
      );
    }
    delete this.vaultObjects(vault)[kind][obj.name.toLowerCase()];
    return { status: 204 };
  }

  private recover(vault: VaultRecord, kind: 'secrets' | 'keys', name: string): SimResponse {
    const obj = this.deletedObject(vault, kind, name);
    delete obj.deleted;
    const v = latest(obj);
    return {
      status: 200,
      body:
        kind === 'secrets'
          ? this.secretBundle(vault, obj.name, v as SecretVersion, false)
          : this.keyBundle(vault, obj.name, v as KeyVersion),
    };
  }

  // ------------------------------------------------------------------ paging & events

  private page(vault: VaultRecord, req: SimRequest, path: string, items: unknown[]): SimResponse {
    const maxParam = req.query.get('maxresults');
    const max = maxParam === null ? PAGE_SIZE : Number(maxParam);
    if (!Number.isInteger(max) || max < 1 || max > PAGE_SIZE)
      throw new SimError(400, 'BadParameter', `maxresults must be an integer between 1 and ${PAGE_SIZE}.`);
    const skip = decodeSkipToken(req.query.get('$skiptoken'));
    const value = items.slice(skip, skip + max);
    const next =
      skip + max < items.length
        ? `${this.base(vault)}${path}?api-version=${req.query.get('api-version')}&` +
          `$skiptoken=${Buffer.from(String(skip + max)).toString('base64url')}&maxresults=${max}`
        : null;
    return { status: 200, body: { value, nextLink: next } };
  }

  private publish(
    vault: VaultRecord,
    type: string,
    objectType: 'Secret' | 'Key',
    name: string,
    v: { version: string; nbf?: number; exp?: number },
  ): void {
    const collection = objectType === 'Secret' ? 'secrets' : 'keys';
    this.ctx.events.publish(vault.id, [
      {
        id: randomUUID(),
        topic: vault.id,
        subject: name,
        eventType: `Microsoft.KeyVault.${type}`,
        eventTime: new Date(this.ctx.clock.now()).toISOString(),
        data: {
          Id: `${this.base(vault)}/${collection}/${name}/${v.version}`,
          VaultName: vault.name,
          ObjectType: objectType,
          ObjectName: name,
          Version: v.version,
          NBF: v.nbf ?? null,
          EXP: v.exp ?? null,
        },
        dataVersion: '1',
        metadataVersion: '1',
      },
    ]);
  }

  // ------------------------------------------------------------------ platform (ADE)

  setSecretAsPlatform(
    vaultName: string,
    secretName: string,
    value: string,
    tags: Record<string, string>,
    contentType: string,
  ): { id: string; version: string } {
    const vault = this.platformVault(vaultName, 'set');
    validName('secrets', secretName);
    const v = this.createSecretVersion(vault, secretName, value, { ...tags }, contentType, {});
    return { id: `${this.base(vault)}/secrets/${secretName}/${v.version}`, version: v.version };
  }

  getSecretAsPlatform(secretUrl: string): { value: string; tags: Record<string, string> } {
    const ref = parseObjectUrl(secretUrl, 'secrets');
    const vault = this.platformVault(ref.vault, 'get');
    const obj = this.liveObject<SecretVersion>(vault, 'secrets', ref.name);
    const v = this.version(obj, 'secrets', ref.version);
    if (!v.enabled) throw new SimError(403, 'Forbidden/SecretDisabled', 'Operation get is not allowed on a disabled secret.');
    return { value: v.value, tags: { ...(v.tags ?? {}) } };
  }

  wrapKeyAsPlatform(keyUrl: string, algorithm: string, plaintext: Buffer): Buffer {
    return this.platformKeyOp(keyUrl, algorithm, 'wrapKey', plaintext);
  }

  unwrapKeyAsPlatform(keyUrl: string, algorithm: string, wrapped: Buffer): Buffer {
    return this.platformKeyOp(keyUrl, algorithm, 'unwrapKey', wrapped);
  }

  private platformKeyOp(keyUrl: string, algorithm: string, op: 'wrapKey' | 'unwrapKey', input: Buffer): Buffer {
    const ref = parseObjectUrl(keyUrl, 'keys');
    const vault = this.platformVault(ref.vault, op);
    if (!(WRAP_ALGORITHMS as readonly string[]).includes(algorithm))
      throw new SimError(400, 'BadParameter', `Invalid algorithm '${algorithm}'; RSA keys support ${WRAP_ALGORITHMS.join(', ')}.`);
    const obj = this.liveObject<KeyVersion>(vault, 'keys', ref.name);
    return this.applyKeyOperation(this.version(obj, 'keys', ref.version), op, algorithm as WrapAlgorithm, input);
  }

  /** Resource Manager purged the vault (or its retention ran out): its objects go with it. */
  forgetVault(vaultName: string): void {
    const key = vaultName.toLowerCase();
    this.objects.delete(key);
    this.counters.delete(key);
    this.localVaults.delete(key);
  }

  /** The platform (Microsoft.Compute for ADE) may touch disk secrets only in vaults enabled for disk encryption. */
  private platformVault(vaultName: string, operation: string): VaultRecord {
    const vault = this.findVault(vaultName);
    if (!vault) throw new SimError(404, 'VaultNotFound', `The key vault '${vaultName}' was not found.`);
    if (!vault.enabledForDiskEncryption) {
      throw new SimError(
        403,
        'Forbidden',
        `The key vault '${vault.name}' is not enabled for disk encryption: Azure Disk Encryption may not ` +
          `${operation} secrets or keys in it. Set enabledForDiskEncryption on the vault.`,
      );
    }
    return vault;
  }

  // ------------------------------------------------------------------ control

  async handleControl(req: SimRequest): Promise<SimResponse | undefined> {
    const seg = req.path.split('/').filter(Boolean).slice(2).map(decodeURIComponent);
    const body = (req.json ?? {}) as Record<string, unknown>;
    if (seg[0] === 'limits') {
      if (req.method === 'GET') return { status: 200, body: this.limits };
      if (req.method === 'PUT' || req.method === 'PATCH') {
        const next = { ...this.limits };
        for (const k of Object.keys(DEFAULT_KV_LIMITS) as (keyof KeyVaultLimits)[]) {
          if (body[k] === undefined) continue;
          if (k === 'enabled' ? typeof body[k] !== 'boolean' : !(typeof body[k] === 'number' && (body[k] as number) > 0))
            throw new SimError(400, 'BadRequest', `limit '${k}' has an invalid value ${JSON.stringify(body[k])}`);
          (next as Record<string, unknown>)[k] = body[k];
        }
        this.limits = next;
        this.counters.clear();
        return { status: 200, body: this.limits };
      }
      return undefined;
    }
    if (seg[0] !== 'vaults') return undefined;
    if (seg.length === 1 && req.method === 'GET') return { status: 200, body: { value: [...this.localVaults.values()] } };
    const vaultName = seg[1];
    if (!vaultName) return undefined;
    if (seg.length === 2 && req.method === 'PUT') return this.putLocalVault(vaultName, body);
    const vault = this.requireVault(vaultName);
    if (seg.length === 2 && req.method === 'GET') return { status: 200, body: this.describeVault(vault) };
    const kind = seg[2];
    const objName = seg[3];
    if ((kind !== 'secrets' && kind !== 'keys') || !objName) return undefined;
    const obj = this.vaultObjects(vault)[kind][objName.toLowerCase()] as StoredObject<SecretVersion | KeyVersion> | undefined;
    if (!obj) throw notFound(kind, objName);
    const version = seg[4];
    if (req.method === 'DELETE') {
      // Out-of-band removal (like someone purging it): no soft-delete state, no event.
      if (version) {
        obj.versions = obj.versions.filter((v) => v.version.toLowerCase() !== version.toLowerCase());
        if (obj.versions.length === 0) delete this.vaultObjects(vault)[kind][objName.toLowerCase()];
      } else {
        delete this.vaultObjects(vault)[kind][objName.toLowerCase()];
      }
      return { status: 204 };
    }
    if (req.method === 'PATCH') {
      const targets = version ? obj.versions.filter((v) => v.version.toLowerCase() === version.toLowerCase()) : obj.versions;
      if (targets.length === 0) throw notFound(kind, `${objName}/${version}`);
      if (typeof body.enabled !== 'boolean') throw new SimError(400, 'BadRequest', 'PATCH needs { enabled: boolean }');
      for (const v of targets) {
        v.enabled = body.enabled;
        v.updated = this.nowSec();
      }
      return { status: 200, body: { name: obj.name, versions: targets.map((v) => ({ version: v.version, enabled: v.enabled })) } };
    }
    return undefined;
  }

  private putLocalVault(name: string, body: Record<string, unknown>): SimResponse {
    if (this.armMounted())
      throw new SimError(409, 'Conflict', 'Resource Manager is mounted: create vaults through Microsoft.KeyVault/vaults instead.');
    if (!/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name))
      throw new SimError(400, 'BadRequest', `'${name}' is not a valid vault name (3-24 letters, digits and hyphens).`);
    const subscriptionId = typeof body.subscriptionId === 'string' ? body.subscriptionId : '00000000-0000-0000-0000-000000000000';
    const resourceGroup = typeof body.resourceGroup === 'string' ? body.resourceGroup : 'rg';
    const record: VaultRecord = {
      id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`,
      name,
      subscriptionId,
      resourceGroup,
      location: typeof body.location === 'string' ? body.location : 'westeurope',
      tenantId: typeof body.tenantId === 'string' ? body.tenantId : this.ctx.directory.tenantId,
      vaultUri: `https://${name.toLowerCase()}.vault.azure.net/`,
      enabledForDiskEncryption: body.enabledForDiskEncryption === true,
      enabledForDeployment: body.enabledForDeployment === true,
      enabledForTemplateDeployment: body.enabledForTemplateDeployment === true,
      enableSoftDelete: body.enableSoftDelete !== false,
      softDeleteRetentionInDays: typeof body.softDeleteRetentionInDays === 'number' ? body.softDeleteRetentionInDays : 90,
      enablePurgeProtection: body.enablePurgeProtection === true,
      enableRbacAuthorization: body.enableRbacAuthorization === true,
      accessPolicies: Array.isArray(body.accessPolicies) ? (body.accessPolicies as AccessPolicyEntry[]) : [],
      tags: {},
    };
    this.localVaults.set(name.toLowerCase(), record);
    return { status: 200, body: record };
  }

  private describeVault(vault: VaultRecord) {
    const objects = this.vaultObjects(vault);
    const describe = (o: StoredObject<SecretVersion | KeyVersion>) => ({
      name: o.name,
      deleted: Boolean(o.deleted),
      versions: o.versions.map((v) => ({ version: v.version, enabled: v.enabled, tags: v.tags ?? {} })),
    });
    return { vault: vault.name, secrets: Object.values(objects.secrets).map(describe), keys: Object.values(objects.keys).map(describe) };
  }
}

// ------------------------------------------------------------------ helpers

export function hasPermission(policies: AccessPolicyEntry[], principal: Principal, kind: 'secrets' | 'keys', perm: string): boolean {
  const want = perm.toLowerCase();
  return policies.some(
    (p) =>
      p.tenantId.toLowerCase() === principal.tenantId.toLowerCase() &&
      p.objectId.toLowerCase() === principal.objectId.toLowerCase() &&
      (!p.applicationId || p.applicationId.toLowerCase() === principal.appId.toLowerCase()) &&
      (p.permissions[kind] ?? []).some((g) => g.toLowerCase() === want || g.toLowerCase() === 'all'),
  );
}

function notFound(kind: 'secrets' | 'keys', name: string): SimError {
  return kind === 'secrets'
    ? new SimError(
        404,
        'SecretNotFound',
        `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this ` +
          `secret you may be able to recover it using the correct recovery command. For help resolving this ` +
          `issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      )
    : new SimError(
        404,
        'KeyNotFound',
        `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you ` +
          `may be able to recover it using the correct recovery command. For help resolving this issue, please ` +
          `see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
}

function validName(_kind: 'secrets' | 'keys', name: string): void {
  if (!OBJECT_NAME.test(name)) throw new SimError(400, 'BadParameter', `The request URI contains an invalid name: ${name.slice(0, 200)}`);
}

function objectBody(req: SimRequest): Record<string, unknown> {
  if (req.body.length === 0) throw new SimError(400, 'BadParameter', 'The request body is required.');
  if (typeof req.json !== 'object' || req.json === null || Array.isArray(req.json))
    throw new SimError(400, 'BadParameter', 'The request body must be a JSON object (Content-Type: application/json).');
  return req.json as Record<string, unknown>;
}

function optionalStringField(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > 255)
    throw new SimError(400, 'BadParameter', `Property '${name}' must be a string of at most 255 characters.`);
  return v;
}

function tagsOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new SimError(400, 'BadParameter', "Property 'tags' must be an object of strings.");
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_TAGS) throw new SimError(400, 'BadParameter', `Too many tags: at most ${MAX_TAGS} are allowed.`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || k.length > 512 || v.length > 512)
      throw new SimError(
        400,
        'BadParameter',
        `Tag '${k.slice(0, 64)}' must have a string value; names and values are at most 512 characters.`,
      );
  }
  return value as Record<string, string>;
}

function attributesOf(value: unknown): { enabled?: boolean; nbf?: number; exp?: number } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new SimError(400, 'BadParameter', "Property 'attributes' must be an object.");
  const a = value as Record<string, unknown>;
  const out: { enabled?: boolean; nbf?: number; exp?: number } = {};
  if (a.enabled !== undefined) {
    if (typeof a.enabled !== 'boolean') throw new SimError(400, 'BadParameter', "Attribute 'enabled' must be a boolean.");
    out.enabled = a.enabled;
  }
  for (const k of ['nbf', 'exp'] as const) {
    if (a[k] === undefined || a[k] === null) continue;
    if (typeof a[k] !== 'number' || !Number.isFinite(a[k]))
      throw new SimError(400, 'BadParameter', `Attribute '${k}' must be a number of seconds since 1970.`);
    out[k] = a[k];
  }
  return out;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function keyOpsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [...KEY_OPS_ALL];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !KEY_OPS_ALL.includes(v))) {
    throw new SimError(400, 'BadParameter', `key_ops must be an array of ${KEY_OPS_ALL.join(', ')}.`);
  }
  return [...(value as string[])];
}

function decodeSkipToken(token: string | null): number {
  if (!token) return 0;
  const n = Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(n) || n < 0) throw new SimError(400, 'BadParameter', 'The $skiptoken is invalid.');
  return n;
}

/** https://<vault>.vault.azure.net/<collection>/<name>[/<version>] */
export function parseObjectUrl(url: string, collection: 'secrets' | 'keys'): { vault: string; name: string; version?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SimError(400, 'BadParameter', `'${url}' is not a Key Vault ${collection} URL.`);
  }
  const host = VAULT_HOST.exec(parsed.hostname.toLowerCase());
  const seg = parsed.pathname.split('/').filter(Boolean);
  // URL() drops a default :443, but ADE rejects any explicit port in a KEK URL
  // (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-key-vault).
  const explicitPort = /^https:\/\/[^/]+:\d+/i.test(url);
  if (
    parsed.protocol !== 'https:' ||
    !host ||
    explicitPort ||
    seg[0] !== collection ||
    seg.length < 2 ||
    seg.length > 3 ||
    (seg[2] !== undefined && !VERSION.test(seg[2]))
  ) {
    throw new SimError(
      400,
      'BadParameter',
      `'${url}' is not a Key Vault ${collection} URL of the form https://<vault>.vault.azure.net/${collection}/<name>/<version>.`,
    );
  }
  return { vault: host[1]!, name: seg[1]!, version: seg[2] };
}
