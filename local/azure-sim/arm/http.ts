/**
 * Resource Manager wire helpers: error envelopes, api-version validation, resource id parsing.
 * Shapes follow https://learn.microsoft.com/azure/azure-resource-manager/management/common-error-codes
 * and the ARM RPC contract (Azure/azure-resource-manager-rpc, "common-api-details.md").
 */
import { randomUUID } from 'node:crypto';
import { SimError, type SimRequest, type SimResponse } from '../contract';

export const ARM_HOST = 'management.azure.com';

/** ARM's error envelope: `{ error: { code, message } }`. */
export function armError(status: number, code: string, message: string, headers: Record<string, string> = {}): SimError {
  return new SimError(status, code, message, headers);
}

export function errorBody(code: string, message: string, details?: unknown[]): unknown {
  return { error: details ? { code, message, details } : { code, message } };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$/i;

/** ARM requires `api-version` on every request (MissingApiVersionParameter / InvalidApiVersionParameter). */
export function requireApiVersion(req: SimRequest): string {
  const apiVersion = req.query.get('api-version');
  if (apiVersion === null || apiVersion === '') {
    throw armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  }
  if (!API_VERSION.test(apiVersion) || apiVersion.slice(0, 4) < '2014') {
    throw armError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${truncate(apiVersion, 40)}' is invalid. The supported versions are in the format ` +
        `'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.`,
    );
  }
  return apiVersion;
}

export function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** Body as an object, or ARM's InvalidRequestContent. The pipeline already rejected unparsable JSON. */
export function bodyObject(req: SimRequest): Record<string, any> {
  if (req.json === undefined) {
    if (req.body.length === 0) return {};
    try {
      const parsed: unknown = JSON.parse(req.body.toString('utf8'));
      if (isObject(parsed)) return parsed;
    } catch {
      throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    }
    throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: expected a JSON object.');
  }
  if (!isObject(req.json)) {
    throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: expected a JSON object.');
  }
  return req.json;
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function newGuid(): string {
  return randomUUID();
}

/** A parsed ARM path: scope (subscription / resource group), provider namespace and type/name pairs. */
export interface ArmPath {
  segments: string[];
  subscriptionId?: string;
  resourceGroup?: string;
  /** Provider namespace as sent, e.g. Microsoft.Compute. */
  namespace?: string;
  /** Resource types after the namespace, e.g. ['virtualMachines', 'extensions']. */
  types: string[];
  /** Names for each type; one shorter than types when the path ends on a collection. */
  names: string[];
  /** Whether the path ends on a collection (type without a name). */
  collection: boolean;
}

/** Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}/...`. */
export function parseArmPath(path: string): ArmPath {
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => safeDecode(s));
  const result: ArmPath = { segments, types: [], names: [], collection: false };
  let i = 0;
  if (segments[i]?.toLowerCase() === 'subscriptions') {
    result.subscriptionId = segments[i + 1];
    i += 2;
    if (segments[i]?.toLowerCase() === 'resourcegroups') {
      result.resourceGroup = segments[i + 1];
      i += 2;
    }
  }
  if (segments[i]?.toLowerCase() === 'providers') {
    result.namespace = segments[i + 1];
    i += 2;
    while (i < segments.length) {
      result.types.push(segments[i]!);
      if (i + 1 < segments.length) result.names.push(segments[i + 1]!);
      i += 2;
    }
    result.collection = result.types.length > result.names.length;
  }
  return result;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function eq(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

export function key(id: string): string {
  return id.toLowerCase();
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function resourceId(subscriptionId: string, resourceGroup: string, namespace: string, ...typeNames: string[]): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${namespace}/${typeNames.join('/')}`;
}

/** Location names compare case-insensitively with spaces removed ("West Europe" == "westeurope"). */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/** Resource names: ARM rejects empty, over-long or control-character names before the provider sees them. */
export function validateName(name: string, kind: string, pattern: RegExp, maxLength: number): void {
  if (name.length === 0 || name.length > maxLength || !pattern.test(name)) {
    throw armError(
      400,
      'InvalidResourceName',
      `The resource name '${truncate(name, 80)}' is invalid for ${kind}. It must match ${pattern.source} ` +
        `and be at most ${maxLength} characters.`,
    );
  }
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function stringRecord(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw armError(400, 'InvalidRequestContent', `The property '${field}' must be an object of strings.`);
  const out: Record<string, string> = {};
  const entries = Object.entries(value);
  if (entries.length > 50)
    throw armError(400, 'InvalidTagNameCharacters', `Too many tags: at most 50 tags are allowed on a resource (got ${entries.length}).`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw armError(400, 'InvalidRequestContent', `The tag '${truncate(k, 40)}' must have a string value.`);
    if (k.length > 512 || v.length > 256)
      throw armError(400, 'InvalidTagNameCharacters', `The tag '${truncate(k, 40)}' is too long (name ≤ 512, value ≤ 256 characters).`);
    out[k] = v;
  }
  return out;
}
