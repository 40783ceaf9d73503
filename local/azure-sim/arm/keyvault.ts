/**
 * Microsoft.KeyVault/vaults on Resource Manager: create/update (PUT/PATCH) with access policies,
 * accessPolicies add/remove/replace, checkNameAvailability, soft delete (deletedVaults, purge, recover via
 * createMode). Follows https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults and the soft-delete
 * overview (names stay reserved until purged; purge protection blocks purge).
 */
import { randomUUID } from 'node:crypto';
import type { SimResponse } from '../contract';
import type { ArmCore, RequestScope } from './core';
import {
  armError,
  bodyObject,
  eq,
  isObject,
  isoTime,
  json,
  key,
  normalizeLocation,
  resourceId,
  stringRecord,
  truncate,
  type ArmPath,
} from './http';
import type { AccessPolicyEntry, DeletedVaultRecord, VaultRecord } from './state';
import { invalidType, methodNotAllowed } from './compute';

const VAULT_TYPE = 'Microsoft.KeyVault/vaults';
const VAULT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const KEY_PERMISSIONS = [
  'all',
  'encrypt',
  'decrypt',
  'wrapkey',
  'unwrapkey',
  'sign',
  'verify',
  'get',
  'list',
  'create',
  'update',
  'import',
  'delete',
  'backup',
  'restore',
  'recover',
  'purge',
  'release',
  'rotate',
  'getrotationpolicy',
  'setrotationpolicy',
];
const SECRET_PERMISSIONS = ['all', 'get', 'list', 'set', 'delete', 'backup', 'restore', 'recover', 'purge'];
const CERT_PERMISSIONS = [
  'all',
  'get',
  'list',
  'delete',
  'create',
  'import',
  'update',
  'managecontacts',
  'getissuers',
  'listissuers',
  'setissuers',
  'deleteissuers',
  'manageissuers',
  'recover',
  'purge',
  'backup',
  'restore',
];
const MAX_POLICIES = 1024;

export function vaultNameProblem(name: string): string | undefined {
  if (!VAULT_NAME.test(name) || name.includes('--')) {
    return (
      `Vault name '${truncate(name, 40)}' is invalid. A vault's name must be between 3-24 alphanumeric ` +
      `characters. The name must begin with a letter, end with a letter or digit, and not contain ` +
      `consecutive hyphens.`
    );
  }
  return undefined;
}

export class KeyVaultArm {
  constructor(private readonly core: ArmCore) {}

  private get state() {
    return this.core.state;
  }

  findVault(name: string): VaultRecord | undefined {
    return Object.values(this.state.vaults).find((v) => eq(v.name, name));
  }

  async handle(path: ArmPath, scope: RequestScope): Promise<SimResponse> {
    const { req } = scope;
    const sub = this.core.subscription(path.subscriptionId, scope.principal);
    const t = path.types.map((x) => x.toLowerCase());
    if (!path.resourceGroup) {
      if (t.length === 1 && t[0] === 'checknameavailability' && path.collection) {
        if (req.method !== 'POST') throw methodNotAllowed(req.method);
        return this.checkName(bodyObject(req));
      }
      if (t.length === 1 && t[0] === 'vaults' && path.collection && req.method === 'GET') {
        return json(200, {
          value: Object.values(this.state.vaults)
            .filter((v) => eq(v.subscriptionId, sub.subscriptionId))
            .map(vaultJson),
        });
      }
      if (t.length === 1 && t[0] === 'deletedvaults' && path.collection && req.method === 'GET') {
        return json(200, {
          value: Object.values(this.state.deletedVaults)
            .filter((d) => d.vault.subscriptionId.toLowerCase() === sub.subscriptionId.toLowerCase())
            .map(deletedJson),
        });
      }
      if (t[0] === 'locations' && t[1] === 'deletedvaults' && path.names.length >= 2) {
        return this.deletedVault(scope, sub.subscriptionId, path.names[0]!, path.names[1]!, t[2]);
      }
      if (t[0] === 'locations' && (t[1] === 'operationresults' || t[1] === 'operations') && path.names[1]) {
        return t[1] === 'operations'
          ? this.core.asyncOperationStatus(path.names[1])
          : this.core.locationStatus(path.names[1], `https://management.azure.com${req.path}?${req.query.toString()}`);
      }
      throw invalidType(path);
    }
    this.core.resourceGroup(sub.subscriptionId, path.resourceGroup);
    if (t[0] !== 'vaults') throw invalidType(path);
    if (t.length === 1 && path.collection) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      const prefix = `/subscriptions/${sub.subscriptionId}/resourcegroups/${path.resourceGroup}/`.toLowerCase();
      return json(200, {
        value: Object.values(this.state.vaults)
          .filter((v) => key(v.id).startsWith(prefix))
          .map(vaultJson),
      });
    }
    const name = path.names[0]!;
    if (t.length === 1) return this.vaultVerb(scope, sub.subscriptionId, path.resourceGroup, name);
    if (t.length === 2 && t[1] === 'accesspolicies' && path.names[1]) {
      if (req.method !== 'PUT') throw methodNotAllowed(req.method);
      return this.accessPolicies(scope, sub.subscriptionId, path.resourceGroup, name, path.names[1]);
    }
    throw invalidType(path);
  }

  private vault(subscriptionId: string, resourceGroup: string, name: string): VaultRecord {
    const vault = this.state.vaults[key(resourceId(subscriptionId, resourceGroup, 'Microsoft.KeyVault', 'vaults', name))];
    if (!vault) this.core.notFound(VAULT_TYPE, name, resourceGroup);
    return vault;
  }

  private checkName(body: Record<string, any>): SimResponse {
    const name = typeof body.name === 'string' ? body.name : '';
    if (!eq(String(body.type ?? ''), VAULT_TYPE)) {
      throw armError(
        400,
        'InvalidRequestContent',
        `The type '${truncate(String(body.type ?? ''), 60)}' is not valid; expected 'Microsoft.KeyVault/vaults'.`,
      );
    }
    const problem = vaultNameProblem(name);
    if (problem) return json(200, { nameAvailable: false, reason: 'AccountNameInvalid', message: problem });
    if (this.findVault(name) || this.state.deletedVaults[name.toLowerCase()]) {
      return json(200, {
        nameAvailable: false,
        reason: 'AlreadyExists',
        message:
          `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that ` +
          `the name is already taken. If you are sure that the vault name was not taken then it is possible ` +
          `that a vault with the same name was recently deleted but not purged after being placed in a ` +
          `recoverable state. If the vault is in a recoverable state then the vault will need to be purged ` +
          `before reusing the name. For more information on VaultAlreadyExists, soft delete and purging a ` +
          `vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.`,
      });
    }
    return json(200, { nameAvailable: true });
  }

  private vaultVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string): SimResponse {
    const { req } = scope;
    switch (req.method) {
      case 'GET':
        return json(200, vaultJson(this.vault(subscriptionId, resourceGroup, name)));
      case 'PUT':
        return this.put(scope, subscriptionId, resourceGroup, name, bodyObject(req));
      case 'PATCH': {
        const vault = this.vault(subscriptionId, resourceGroup, name);
        const body = bodyObject(req);
        const before = JSON.stringify(vault.accessPolicies);
        this.applyProperties(vault, body, true);
        this.core.emit('Write', scope, subscriptionId, vault.id, 'Microsoft.KeyVault/vaults/write', { existing: true });
        if (JSON.stringify(vault.accessPolicies) !== before) this.policyChanged(vault);
        return json(200, vaultJson(vault));
      }
      case 'DELETE': {
        const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.KeyVault', 'vaults', name);
        const vault = this.state.vaults[key(id)];
        if (!vault) return { status: 204 };
        this.softDelete(vault);
        this.core.emit('Delete', scope, subscriptionId, vault.id, 'Microsoft.KeyVault/vaults/delete', { existing: true });
        return { status: 200 };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private put(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string, body: Record<string, any>): SimResponse {
    const problem = vaultNameProblem(name);
    if (problem) throw armError(400, 'VaultNameNotValid', problem);
    const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.KeyVault', 'vaults', name);
    const existing = this.state.vaults[key(id)];
    const props = isObject(body.properties) ? body.properties : undefined;
    if (!props) throw armError(400, 'BadRequest', "The parameter 'properties' cannot be null.");
    const location = typeof body.location === 'string' ? normalizeLocation(body.location) : '';
    if (!location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const createMode = String(props.createMode ?? 'default').toLowerCase();
    if (existing) {
      if (location !== normalizeLocation(existing.location))
        throw armError(400, 'BadRequest', "Changing property 'location' is not allowed.");
      const before = JSON.stringify(existing.accessPolicies);
      this.applyProperties(existing, body, false);
      this.core.emit('Write', scope, subscriptionId, existing.id, 'Microsoft.KeyVault/vaults/write', { existing: true });
      if (JSON.stringify(existing.accessPolicies) !== before) this.policyChanged(existing);
      return json(200, vaultJson(existing));
    }
    const other = this.findVault(name);
    if (other)
      throw armError(
        409,
        'VaultAlreadyExists',
        `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken.`,
      );
    const deleted = this.state.deletedVaults[name.toLowerCase()];
    let vault: VaultRecord;
    if (createMode === 'recover') {
      if (!deleted) throw armError(404, 'DeletedVaultNotFound', `The specified deleted vault '${name}' does not exist.`);
      if (!eq(deleted.vault.id, id))
        throw armError(
          400,
          'BadRequest',
          `A deleted vault named '${name}' exists in a different resource group or subscription; recover it into '${deleted.vault.id}'.`,
        );
      vault = deleted.vault;
      delete this.state.deletedVaults[name.toLowerCase()];
    } else {
      if (deleted) {
        throw armError(
          409,
          'ConflictError',
          `Exist soft deleted vault with the same name. Vault name: '${name}'. Recover it with createMode ` +
            `'recover' or purge it before reusing the name.`,
        );
      }
      const tenantId = String(props.tenantId ?? '');
      if (!/^[0-9a-f-]{36}$/i.test(tenantId)) throw armError(400, 'BadRequest', "The parameter 'tenantId' must be a GUID.");
      const sku = isObject(props.sku) ? props.sku : undefined;
      if (!sku || !['standard', 'premium'].includes(String(sku.name).toLowerCase())) {
        throw armError(400, 'BadRequest', "The parameter 'sku.name' must be 'standard' or 'premium'.");
      }
      vault = {
        id,
        name,
        subscriptionId,
        resourceGroup,
        location,
        tenantId,
        vaultUri: `https://${name.toLowerCase()}.vault.azure.net/`,
        enabledForDiskEncryption: false,
        enabledForDeployment: false,
        enabledForTemplateDeployment: false,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 90,
        enablePurgeProtection: false,
        enableRbacAuthorization: false,
        accessPolicies: [],
        tags: {},
      };
      (vault as VaultRecord & { sku?: string }).sku = String(sku.name).toLowerCase();
      this.applyProperties(vault, body, false);
    }
    this.state.vaults[key(id)] = vault;
    this.core.emit('Write', scope, subscriptionId, vault.id, 'Microsoft.KeyVault/vaults/write');
    return json(createMode === 'recover' ? 200 : 201, vaultJson(vault));
  }

  /** Applies properties from a PUT (absent flags keep current values, as Key Vault does) or PATCH. */
  private applyProperties(vault: VaultRecord, body: Record<string, any>, isPatch: boolean): void {
    const props = isObject(body.properties) ? body.properties : {};
    if (body.tags !== undefined) vault.tags = stringRecord(body.tags, 'tags');
    else if (!isPatch) vault.tags = vault.tags ?? {};
    const flag = (field: keyof VaultRecord) => {
      const value = props[field];
      if (value === undefined || value === null) return;
      if (typeof value !== 'boolean') throw armError(400, 'BadRequest', `The parameter '${field}' must be a boolean.`);
      (vault as unknown as Record<string, unknown>)[field] = value;
    };
    flag('enabledForDiskEncryption');
    flag('enabledForDeployment');
    flag('enabledForTemplateDeployment');
    flag('enableRbacAuthorization');
    if (props.enableSoftDelete === false && vault.enableSoftDelete) {
      throw armError(400, 'BadRequest', 'The property "enableSoftDelete" has been set to true previously and cannot be set to false.');
    }
    if (props.enablePurgeProtection === false && vault.enablePurgeProtection) {
      throw armError(400, 'BadRequest', 'The property "enablePurgeProtection" cannot be set to false once enabled.');
    }
    if (props.enablePurgeProtection === true) vault.enablePurgeProtection = true;
    if (props.softDeleteRetentionInDays !== undefined) {
      const days = props.softDeleteRetentionInDays;
      if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 90) {
        throw armError(400, 'BadRequest', 'The property "softDeleteRetentionInDays" must be an integer between 7 and 90.');
      }
      vault.softDeleteRetentionInDays = days;
    }
    if (props.tenantId !== undefined) vault.tenantId = String(props.tenantId);
    if (props.accessPolicies !== undefined && props.accessPolicies !== null) {
      vault.accessPolicies = parsePolicies(props.accessPolicies, vault.tenantId);
    }
    if (props.networkAcls !== undefined && props.networkAcls !== null) {
      (vault as VaultRecord & { networkAcls?: unknown }).networkAcls = parseNetworkAcls(props.networkAcls);
    }
  }

  private accessPolicies(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string, operation: string): SimResponse {
    const vault = this.vault(subscriptionId, resourceGroup, name);
    const body = bodyObject(scope.req);
    const entries = parsePolicies(body.properties?.accessPolicies, vault.tenantId);
    const op = operation.toLowerCase();
    const same = (a: AccessPolicyEntry, b: AccessPolicyEntry) =>
      eq(a.objectId, b.objectId) && eq(a.tenantId, b.tenantId) && eq(a.applicationId ?? '', b.applicationId ?? '');
    if (op === 'replace') {
      vault.accessPolicies = entries;
    } else if (op === 'add') {
      for (const entry of entries) {
        const current = vault.accessPolicies.find((p) => same(p, entry));
        if (!current) {
          vault.accessPolicies.push(entry);
          continue;
        }
        for (const kind of ['keys', 'secrets', 'certificates', 'storage'] as const) {
          const merged = new Set([...(current.permissions[kind] ?? []), ...(entry.permissions[kind] ?? [])].map((p) => p.toLowerCase()));
          if (merged.size > 0) current.permissions[kind] = [...merged];
        }
      }
    } else if (op === 'remove') {
      for (const entry of entries) {
        const current = vault.accessPolicies.find((p) => same(p, entry));
        if (!current) continue;
        for (const kind of ['keys', 'secrets', 'certificates', 'storage'] as const) {
          const drop = new Set((entry.permissions[kind] ?? []).map((p) => p.toLowerCase()));
          if (current.permissions[kind]) current.permissions[kind] = current.permissions[kind]!.filter((p) => !drop.has(p.toLowerCase()));
        }
        const empty = (['keys', 'secrets', 'certificates', 'storage'] as const).every((k) => (current.permissions[k] ?? []).length === 0);
        if (empty) vault.accessPolicies = vault.accessPolicies.filter((p) => p !== current);
      }
    } else {
      throw armError(
        400,
        'BadRequest',
        `The access policy update kind '${truncate(operation, 20)}' is invalid; use add, remove or replace.`,
      );
    }
    if (vault.accessPolicies.length > MAX_POLICIES) {
      throw armError(
        400,
        'BadRequest',
        `The number of access policies (${vault.accessPolicies.length}) exceeds the maximum of ${MAX_POLICIES}.`,
      );
    }
    this.core.emit(
      'Write',
      scope,
      subscriptionId,
      `${vault.id}/accessPolicies/${operation}`,
      'Microsoft.KeyVault/vaults/accessPolicies/write',
      { existing: true },
    );
    this.policyChanged(vault);
    return json(200, {
      id: `${vault.id}/accessPolicies/${op}`,
      type: 'Microsoft.KeyVault/vaults/accessPolicies',
      location: vault.location,
      properties: { accessPolicies: vault.accessPolicies.map(policyJson) },
    });
  }

  /** Key Vault's own event for access policy changes (Microsoft.KeyVault.VaultAccessPolicyChanged). */
  private policyChanged(vault: VaultRecord): void {
    const now = this.core.ctx.clock.now();
    this.core.publish(vault.id, [
      {
        id: randomUUID(),
        topic: vault.id,
        subject: vault.name,
        eventType: 'Microsoft.KeyVault.VaultAccessPolicyChanged',
        eventTime: isoTime(now),
        data: {
          Id: vault.vaultUri,
          VaultName: vault.name,
          ObjectType: 'Vault',
          ObjectName: vault.name,
          Version: null,
          NBF: null,
          EXP: null,
        },
        dataVersion: '1',
        metadataVersion: '1',
      },
    ]);
  }

  softDelete(vault: VaultRecord): void {
    delete this.state.vaults[key(vault.id)];
    // Deleting a vault deletes its Event Grid subscriptions; they are not restored on recovery.
    for (const [id, sub] of Object.entries(this.state.eventSubscriptions)) {
      if (eq(sub.source, vault.id)) delete this.state.eventSubscriptions[id];
    }
    for (const [id, topic] of Object.entries(this.state.systemTopics)) {
      if (eq(topic.source, vault.id)) delete this.state.systemTopics[id];
    }
    const now = this.core.ctx.clock.now();
    const record: DeletedVaultRecord = {
      id: `/subscriptions/${vault.subscriptionId}/providers/Microsoft.KeyVault/locations/${vault.location}/deletedVaults/${vault.name}`,
      name: vault.name,
      location: vault.location,
      vaultId: vault.id,
      deletionDate: isoTime(now),
      scheduledPurgeDate: isoTime(now + vault.softDeleteRetentionInDays * 86_400_000),
      purgeProtectionEnabled: vault.enablePurgeProtection,
      tags: vault.tags,
      vault,
    };
    this.state.deletedVaults[vault.name.toLowerCase()] = record;
  }

  private deletedVault(
    scope: RequestScope,
    subscriptionId: string,
    location: string,
    name: string,
    action: string | undefined,
  ): SimResponse {
    const { req } = scope;
    const record = this.state.deletedVaults[name.toLowerCase()];
    const matches =
      record && eq(record.vault.subscriptionId, subscriptionId) && normalizeLocation(record.location) === normalizeLocation(location);
    if (!matches || !record)
      throw armError(404, 'DeletedVaultNotFound', `The specified deleted vault '${truncate(name, 40)}' does not exist.`);
    if (action === undefined) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      return json(200, deletedJson(record));
    }
    if (action !== 'purge' || req.method !== 'POST') throw methodNotAllowed(req.method);
    if (record.purgeProtectionEnabled) {
      throw armError(
        409,
        'ConflictError',
        `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault ` +
          `service will automatically purge it after the retention period has passed.`,
      );
    }
    const op = this.core.startOperation(this.core.durations.vaultPurge);
    const generation = this.core.generation;
    this.core.background(`purge ${name}`, async () => {
      await this.core.sleep(this.core.durations.vaultPurge, generation);
      if (this.state.deletedVaults[name.toLowerCase()] === record) {
        delete this.state.deletedVaults[name.toLowerCase()];
        this.forgetData(record.name);
      }
      this.core.completeOperation(op);
      this.core.emit('Action', scope, subscriptionId, record.id, 'Microsoft.KeyVault/locations/deletedVaults/purge/action');
    });
    const headers = this.core.lroHeaders(op, subscriptionId, 'Microsoft.KeyVault', record.location, scope.apiVersion, true);
    delete headers['azure-asyncoperation'];
    return { status: 202, headers };
  }

  /** Purges vaults whose retention ran out (called on each request; cheap). */
  expireDeleted(): void {
    const now = this.core.ctx.clock.now();
    for (const [name, record] of Object.entries(this.state.deletedVaults)) {
      if (Date.parse(record.scheduledPurgeDate) <= now) {
        delete this.state.deletedVaults[name];
        this.forgetData(record.name);
      }
    }
  }

  /** A purged vault's secrets and keys are gone for good (the data plane keeps them by vault name). */
  private forgetData(vaultName: string): void {
    try {
      this.core.ctx.keyVaultPlatform?.forgetVault?.(vaultName);
    } catch (error) {
      this.core.ctx.log('warn', 'the Key Vault data plane could not forget a purged vault', {
        vault: vaultName,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

function parsePolicies(raw: unknown, defaultTenant: string): AccessPolicyEntry[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw armError(400, 'BadRequest', "The parameter 'accessPolicies' must be an array.");
  if (raw.length > MAX_POLICIES)
    throw armError(400, 'BadRequest', `The number of access policies (${raw.length}) exceeds the maximum of ${MAX_POLICIES}.`);
  return raw.map((entry, index) => {
    if (!isObject(entry)) throw armError(400, 'BadRequest', `Access policy ${index} must be an object.`);
    const objectId = String(entry.objectId ?? '');
    if (!objectId) throw armError(400, 'BadRequest', `Access policy ${index} is missing 'objectId'.`);
    const perms = isObject(entry.permissions) ? entry.permissions : {};
    const check = (list: unknown, allowed: string[], kind: string): string[] | undefined => {
      if (list === undefined || list === null) return undefined;
      if (!Array.isArray(list)) throw armError(400, 'BadRequest', `Access policy ${index}: permissions.${kind} must be an array.`);
      return list.map((p) => {
        const value = String(p).toLowerCase();
        if (!allowed.includes(value))
          throw armError(
            400,
            'BadRequest',
            `Invalid value found at accessPolicies[${index}].permissions.${kind}: '${truncate(String(p), 30)}'.`,
          );
        return value;
      });
    };
    const permissions: AccessPolicyEntry['permissions'] = {};
    const keys = check(perms.keys, KEY_PERMISSIONS, 'keys');
    const secrets = check(perms.secrets, SECRET_PERMISSIONS, 'secrets');
    const certificates = check(perms.certificates, CERT_PERMISSIONS, 'certificates');
    if (keys) permissions.keys = keys;
    if (secrets) permissions.secrets = secrets;
    if (certificates) permissions.certificates = certificates;
    if (Array.isArray(perms.storage)) permissions.storage = perms.storage.map((p: unknown) => String(p).toLowerCase());
    const result: AccessPolicyEntry = { tenantId: String(entry.tenantId ?? defaultTenant), objectId, permissions };
    if (entry.applicationId) result.applicationId = String(entry.applicationId);
    return result;
  });
}

function policyJson(p: AccessPolicyEntry): Record<string, unknown> {
  return {
    tenantId: p.tenantId,
    objectId: p.objectId,
    ...(p.applicationId ? { applicationId: p.applicationId } : {}),
    permissions: p.permissions,
  };
}

/**
 * Key Vault network rules (https://learn.microsoft.com/azure/key-vault/general/network-security): stored and returned;
 * the data plane does not enforce them (README, known differences).
 */
function parseNetworkAcls(value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw armError(400, 'BadRequest', "The parameter 'networkAcls' must be an object.");
  const defaultAction = String(value.defaultAction ?? 'Allow');
  if (!['allow', 'deny'].includes(defaultAction.toLowerCase()))
    throw armError(
      400,
      'BadRequest',
      `The parameter 'networkAcls.defaultAction' must be 'Allow' or 'Deny', got '${defaultAction.slice(0, 40)}'.`,
    );
  const bypass = String(value.bypass ?? 'AzureServices');
  if (!['azureservices', 'none'].includes(bypass.toLowerCase()))
    throw armError(
      400,
      'BadRequest',
      `The parameter 'networkAcls.bypass' must be 'AzureServices' or 'None', got '${bypass.slice(0, 40)}'.`,
    );
  const ipRules = Array.isArray(value.ipRules) ? value.ipRules : [];
  for (const rule of ipRules) {
    const ip = String(isObject(rule) ? rule.value : '');
    if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(ip))
      throw armError(400, 'BadRequest', `Invalid IP address or range '${ip.slice(0, 60)}' in 'networkAcls.ipRules'.`);
  }
  return {
    bypass,
    defaultAction,
    ipRules: ipRules.map((r: Record<string, unknown>) => ({ value: String(r.value) })),
    virtualNetworkRules: [],
  };
}

export function vaultJson(v: VaultRecord): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    type: VAULT_TYPE,
    location: v.location,
    tags: v.tags,
    systemData: {},
    properties: {
      sku: { family: 'A', name: (v as VaultRecord & { sku?: string }).sku ?? 'standard' },
      tenantId: v.tenantId,
      accessPolicies: v.accessPolicies.map(policyJson),
      enabledForDeployment: v.enabledForDeployment,
      enabledForDiskEncryption: v.enabledForDiskEncryption,
      enabledForTemplateDeployment: v.enabledForTemplateDeployment,
      enableSoftDelete: v.enableSoftDelete,
      softDeleteRetentionInDays: v.softDeleteRetentionInDays,
      enableRbacAuthorization: v.enableRbacAuthorization,
      ...(v.enablePurgeProtection ? { enablePurgeProtection: true } : {}),
      vaultUri: v.vaultUri,
      provisioningState: 'Succeeded',
      publicNetworkAccess: 'Enabled',
      ...((v as VaultRecord & { networkAcls?: unknown }).networkAcls
        ? { networkAcls: (v as VaultRecord & { networkAcls?: unknown }).networkAcls }
        : {}),
    },
  };
}

function deletedJson(d: DeletedVaultRecord): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    type: 'Microsoft.KeyVault/deletedVaults',
    properties: {
      vaultId: d.vaultId,
      location: d.location,
      deletionDate: d.deletionDate,
      scheduledPurgeDate: d.scheduledPurgeDate,
      tags: d.tags,
      purgeProtectionEnabled: d.purgeProtectionEnabled,
    },
  };
}
