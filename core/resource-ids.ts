/**
 * Azure Resource Manager ids and Key Vault object ids: parse, format, compare.
 *
 * ARM treats ids case-insensitively, but events, SDK responses and user input disagree on casing
 * (`resourceGroups` vs `resourcegroups`, `Microsoft.Compute` vs `microsoft.compute`). Everything that
 * compares or keys on an id goes through {@link normaliseResourceId} / {@link sameResourceId}.
 */
import { ValidationError } from './errors';

/** A parsed ARM id. `resourceTypes[i]` pairs with `names[i]`; child resources add pairs. */
export interface ResourceId {
  subscriptionId: string;
  /** Absent for subscription-scoped ids. */
  resourceGroup?: string;
  /** Provider namespace, e.g. `Microsoft.Compute`. Absent for subscription / resource-group ids. */
  provider?: string;
  /** Type segments, e.g. `['virtualMachines', 'extensions']`. */
  resourceTypes: string[];
  /** Name segments, same length as `resourceTypes`. */
  names: string[];
}

export interface VmId {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** Longest ARM id accepted: Resource Manager's URL limits keep real ids far below this. */
export const MAX_RESOURCE_ID_LENGTH = 2048;

/** A GUID as Azure writes them (subscription, tenant, client and object ids), any case. */
export const GUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const GUID = new RegExp(`^${GUID_PATTERN}$`, 'i');
// Resource group names: 1–90 chars of letters (any script), digits, `_`, `(`, `)`, `-`, `.`; not ending in `.`.
const RESOURCE_GROUP = /^[\p{L}\p{N}_().-]{1,90}$/u;
const PROVIDER_NAMESPACE = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$/;
/**
 * VM names: 1–64 chars (15 for Windows, which an id does not tell), no spaces, control characters or punctuation
 * other than `_ . -`, not starting with `_` and not ending in `.` or `-`
 * (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcompute).
 */
const VM_NAME = /^[\p{L}\p{N}][\p{L}\p{N}_.-]{0,63}$/u;
/** Longest resource name segment Resource Manager accepts for any type (child names included). */
export const MAX_RESOURCE_NAME_LENGTH = 260;
/**
 * Never part of a resource name of any type: path separators, percent-encoding (ARM ids in events and
 * responses are not encoded, so `%2F` or `%2E%2E` is an attempt to smuggle a path), query/fragment
 * characters and control characters.
 */
const NAME_FORBIDDEN = /[/\\%?#\p{Cc}]/u;
const TYPE_SEGMENT = /^[A-Za-z][A-Za-z0-9]*$/;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

export function isResourceGroupName(value: string): boolean {
  return RESOURCE_GROUP.test(value) && !value.endsWith('.');
}

export function isVmName(value: string): boolean {
  return VM_NAME.test(value) && !/[.-]$/.test(value);
}

/** Why `name` cannot be a resource name of any type, or undefined when it could be one. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return 'is a relative path segment';
  if (name.length > MAX_RESOURCE_NAME_LENGTH) return `is longer than ${MAX_RESOURCE_NAME_LENGTH} characters`;
  if (NAME_FORBIDDEN.test(name)) return 'contains "/", "\\", "%", "?", "#" or a control character';
  return undefined;
}

/**
 * Parses an ARM id such as
 * `/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>/extensions/<ext>`.
 * Also accepts subscription (`/subscriptions/<guid>`) and resource-group ids. Throws ValidationError naming `field`.
 */
export function parseResourceId(id: unknown, field = 'resourceId'): ResourceId {
  if (typeof id !== 'string' || id.trim() === '')
    throw new ValidationError(`${field} must be a non-empty ARM resource id string`, { field });
  const text = id.trim();
  if (!text.startsWith('/')) throw new ValidationError(`${field} must start with "/subscriptions/": got ${quote(text)}`, { field });
  if (text.length > MAX_RESOURCE_ID_LENGTH)
    throw new ValidationError(`${field} is longer than ${MAX_RESOURCE_ID_LENGTH} characters`, { field });
  if (/\p{Cc}/u.test(text)) throw new ValidationError(`${field} contains a control character`, { field });
  const segments = text.replace(/\/+$/, '').split('/').slice(1);
  if (segments.some((s) => s === '')) throw new ValidationError(`${field} has an empty path segment: ${quote(text)}`, { field });
  if (segments[0]?.toLowerCase() !== 'subscriptions' || segments.length < 2) {
    throw new ValidationError(`${field} must start with "/subscriptions/<subscription id>": got ${quote(text)}`, { field });
  }
  const subscriptionId = segments[1];
  if (!isGuid(subscriptionId))
    throw new ValidationError(`${field} has a subscription id that is not a GUID: ${quote(subscriptionId)}`, { field });
  const result: ResourceId = { subscriptionId: subscriptionId.toLowerCase(), resourceTypes: [], names: [] };
  let rest = segments.slice(2);
  if (rest.length === 0) return result;

  if (rest[0].toLowerCase() === 'resourcegroups') {
    if (rest.length < 2) throw new ValidationError(`${field} ends after "resourceGroups" without a resource group name`, { field });
    const rg = rest[1];
    if (!isResourceGroupName(rg))
      throw new ValidationError(
        `${field} has an invalid resource group name ${quote(rg)} (1–90 letters, digits, "_", "(", ")", "-", "."; not ending in ".")`,
        { field },
      );
    result.resourceGroup = rg;
    rest = rest.slice(2);
    if (rest.length === 0) return result;
  }

  if (rest[0].toLowerCase() !== 'providers' || rest.length < 2) {
    throw new ValidationError(
      `${field} expected "providers/<namespace>" after the ${result.resourceGroup ? 'resource group' : 'subscription'}: got ${quote(text)}`,
      { field },
    );
  }
  const provider = rest[1];
  if (!PROVIDER_NAMESPACE.test(provider))
    throw new ValidationError(`${field} has an invalid provider namespace ${quote(provider)}`, { field });
  result.provider = provider;
  rest = rest.slice(2);
  if (rest.length === 0 || rest.length % 2 !== 0) {
    throw new ValidationError(`${field} must continue with "<type>/<name>" pairs after the provider namespace: got ${quote(text)}`, {
      field,
    });
  }
  for (let i = 0; i < rest.length; i += 2) {
    const type = rest[i];
    if (type.toLowerCase() === 'providers')
      throw new ValidationError(`${field} is an extension resource id (nested "providers"), which is not supported: ${quote(text)}`, {
        field,
      });
    if (!TYPE_SEGMENT.test(type)) throw new ValidationError(`${field} has an invalid resource type segment ${quote(type)}`, { field });
    const name = rest[i + 1];
    const problem = nameProblem(name);
    if (problem) throw new ValidationError(`${field} has a ${type} name that ${problem}: ${quote(name)}`, { field });
    if (i === 0 && provider.toLowerCase() === 'microsoft.compute' && type.toLowerCase() === 'virtualmachines' && !isVmName(name))
      throw new ValidationError(
        `${field} has an invalid virtual machine name ${quote(name)} (1–64 letters, digits, "_", ".", "-"; ` +
          'starting with a letter or digit, not ending in "." or "-")',
        { field },
      );
    result.resourceTypes.push(type);
    result.names.push(name);
  }
  return result;
}

/** Formats back to the canonical ARM spelling (`/subscriptions/…/resourceGroups/…/providers/…`). */
export function formatResourceId(id: ResourceId): string {
  if (id.resourceTypes.length !== id.names.length)
    throw new ValidationError('resourceTypes and names must have the same length', { field: 'resourceTypes' });
  let text = `/subscriptions/${id.subscriptionId}`;
  if (id.resourceGroup !== undefined) text += `/resourceGroups/${id.resourceGroup}`;
  if (id.provider !== undefined) {
    text += `/providers/${id.provider}`;
    for (let i = 0; i < id.resourceTypes.length; i++) text += `/${id.resourceTypes[i]}/${id.names[i]}`;
  } else if (id.resourceTypes.length > 0) {
    throw new ValidationError('resource types need a provider namespace', { field: 'provider' });
  }
  return text;
}

/** Full type including the namespace, e.g. `Microsoft.Compute/virtualMachines/extensions`; undefined for sub/RG ids. */
export function fullResourceType(id: ResourceId): string | undefined {
  return id.provider === undefined ? undefined : [id.provider, ...id.resourceTypes].join('/');
}

/** The innermost resource name (the VM name for a VM id, the extension name for an extension id). */
export function resourceName(id: ResourceId): string | undefined {
  return id.names.at(-1);
}

/** Id of the parent resource (drops the last type/name pair). Undefined for a top-level resource. */
export function parentResourceId(id: ResourceId): ResourceId | undefined {
  if (id.resourceTypes.length < 2) return undefined;
  return { ...id, resourceTypes: id.resourceTypes.slice(0, -1), names: id.names.slice(0, -1) };
}

/** Canonical lower-case form: the key to use whenever ids are compared, hashed or stored. */
export function normaliseResourceId(id: string | ResourceId, field = 'resourceId'): string {
  const parsed = typeof id === 'string' ? parseResourceId(id, field) : id;
  return formatResourceId(parsed).toLowerCase();
}

/** Case-insensitive equality of two ARM ids. Malformed ids are never equal to anything. */
export function sameResourceId(a: string, b: string): boolean {
  try {
    return normaliseResourceId(a) === normaliseResourceId(b);
  } catch {
    return false;
  }
}

export function isResourceType(id: ResourceId, fullType: string): boolean {
  return fullResourceType(id)?.toLowerCase() === fullType.toLowerCase();
}

/** Parses an id that must be exactly a virtual machine (`Microsoft.Compute/virtualMachines/<name>`). */
export function parseVmId(id: unknown, field = 'vmId'): VmId {
  const parsed = parseResourceId(id, field);
  if (!isResourceType(parsed, 'Microsoft.Compute/virtualMachines') || parsed.resourceGroup === undefined) {
    throw new ValidationError(
      `${field} is not a virtual machine id (expected type Microsoft.Compute/virtualMachines): got ${quote(String(id))}`,
      { field },
    );
  }
  return { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, name: parsed.names[0] };
}

/** Parses an id that must be a virtual machine or a virtual machine scale set (the two things the app encrypts). */
export function parseEncryptionTargetId(id: unknown, field = 'vmId'): VmId {
  const parsed = parseResourceId(id, field);
  const ok =
    isResourceType(parsed, 'Microsoft.Compute/virtualMachines') || isResourceType(parsed, 'Microsoft.Compute/virtualMachineScaleSets');
  if (!ok || parsed.resourceGroup === undefined)
    throw new ValidationError(`${field} is not a virtual machine or scale set id: got ${quote(String(id))}`, { field });
  return { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, name: parsed.names[0] };
}

export function formatVmId(vm: VmId): string {
  return formatResourceId({
    subscriptionId: vm.subscriptionId,
    resourceGroup: vm.resourceGroup,
    provider: 'Microsoft.Compute',
    resourceTypes: ['virtualMachines'],
    names: [vm.name],
  });
}

export function formatKeyVaultResourceId(subscriptionId: string, resourceGroup: string, vaultName: string): string {
  return formatResourceId({ subscriptionId, resourceGroup, provider: 'Microsoft.KeyVault', resourceTypes: ['vaults'], names: [vaultName] });
}

// ---------------------------------------------------------------------------------------------
// Key Vault object ids: https://<vault>.vault.azure.net/secrets|keys/<name>[/<version>]

export type KeyVaultObjectKind = 'secrets' | 'keys';

export interface KeyVaultObjectId {
  /** Base URL without trailing slash, e.g. `https://myvault.vault.azure.net`. */
  vaultUrl: string;
  /** Lower-case vault name (DNS label). */
  vaultName: string;
  kind: KeyVaultObjectKind;
  name: string;
  /** Absent for unversioned ids. */
  version?: string;
}

// Public and sovereign-cloud Key Vault DNS suffixes.
const VAULT_DNS_SUFFIXES = ['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'];
const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/;
const OBJECT_NAME = /^[0-9A-Za-z-]{1,127}$/;
const OBJECT_VERSION = /^[0-9A-Za-z]{1,64}$/;

/**
 * Parses a Key Vault secret or key identifier. No port is allowed: ADE rejects KEK URLs with one
 * (docs/ade-behaviour.md#secrets-keys-and-vaults), so this does too.
 */
export function parseKeyVaultObjectId(url: unknown, field = 'keyVaultObjectId'): KeyVaultObjectId {
  const parsed = keyVaultHttpsUrl(url, field);
  if (parsed.search !== '' || parsed.hash !== '') throw new ValidationError(`${field} must not carry a query or fragment`, { field });
  const vault = vaultOfHost(parsed.hostname, field);
  const parts = parsed.pathname.replace(/\/+$/, '').split('/').slice(1);
  if (parts.length < 2 || parts.length > 3)
    throw new ValidationError(
      `${field} must look like https://<vault>.vault.azure.net/secrets|keys/<name>[/<version>]: got ${quote(String(url))}`,
      { field },
    );
  const kind = parts[0].toLowerCase();
  if (kind !== 'secrets' && kind !== 'keys')
    throw new ValidationError(`${field} object kind must be "secrets" or "keys": got ${quote(parts[0])}`, { field });
  const name = parts[1];
  if (!OBJECT_NAME.test(name))
    throw new ValidationError(`${field} has an invalid object name ${quote(name)} (1–127 letters, digits, hyphens)`, { field });
  const result: KeyVaultObjectId = { vaultUrl: `https://${vault.host}`, vaultName: vault.name, kind, name };
  if (parts.length === 3) {
    if (!OBJECT_VERSION.test(parts[2])) throw new ValidationError(`${field} has an invalid object version ${quote(parts[2])}`, { field });
    result.version = parts[2];
  }
  return result;
}

export function formatKeyVaultObjectId(id: KeyVaultObjectId): string {
  const base = `${id.vaultUrl.replace(/\/+$/, '')}/${id.kind}/${id.name}`;
  return id.version === undefined ? base : `${base}/${id.version}`;
}

/** Parses a vault base URL (`https://<vault>.vault.azure.net[/]`) into its canonical form and name. */
export function parseKeyVaultUrl(url: unknown, field = 'keyVaultUrl'): { vaultUrl: string; vaultName: string } {
  const parsed = keyVaultHttpsUrl(url, field);
  if (parsed.pathname !== '/' && parsed.pathname !== '')
    throw new ValidationError(`${field} must be the vault base URL without a path: got ${quote(String(url))}`, { field });
  const vault = vaultOfHost(parsed.hostname, field);
  return { vaultUrl: `https://${vault.host}`, vaultName: vault.name };
}

/** A Key Vault URL's common rules: https, and no port (ADE rejects a URL with one). */
function keyVaultHttpsUrl(url: unknown, field: string): URL {
  if (typeof url !== 'string' || url.trim() === '') throw new ValidationError(`${field} must be a non-empty Key Vault URL`, { field });
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ValidationError(`${field} is not a URL: ${quote(url)}`, { field });
  }
  if (parsed.protocol !== 'https:') throw new ValidationError(`${field} must use https: got ${quote(parsed.protocol)}`, { field });
  if (parsed.port !== '' || /:\d+/.test(url.split('/')[2] ?? ''))
    throw new ValidationError(`${field} must not contain a port (ADE rejects it): ${quote(url)}`, { field });
  return parsed;
}

/** `https://<name>.vault.azure.net` for the public cloud. */
export function keyVaultUrlOf(vaultName: string, dnsSuffix = 'vault.azure.net'): string {
  return `https://${vaultName.toLowerCase()}.${dnsSuffix}`;
}

function vaultOfHost(hostname: string, field: string): { host: string; name: string } {
  const host = hostname.toLowerCase();
  const suffix = VAULT_DNS_SUFFIXES.find((s) => host.endsWith(`.${s}`));
  if (!suffix)
    throw new ValidationError(
      `${field} host ${quote(host)} is not a Key Vault host (expected <vault>.${VAULT_DNS_SUFFIXES[0]} or a sovereign-cloud equivalent)`,
      { field },
    );
  const name = host.slice(0, -(suffix.length + 1));
  if (!VAULT_NAME.test(name) || name.includes('--'))
    throw new ValidationError(`${field} has an invalid vault name ${quote(name)}`, { field });
  return { host, name };
}

function quote(value: string): string {
  const shown = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  return JSON.stringify(shown);
}
