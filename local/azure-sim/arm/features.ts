/**
 * Microsoft.Features (preview feature registration per subscription) and Microsoft.Compute resource SKUs (the
 * per-size `EncryptionAtHostSupported` capability): the two things Azure checks before a VM may have encryption at
 * host (https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#prerequisites,
 * https://learn.microsoft.com/rest/api/resources/features/get, https://learn.microsoft.com/rest/api/compute/resource-skus/list).
 */
import type { SimResponse } from '../contract';
import type { ArmCore, RequestScope } from './core';
import { armError, eq, json, key, truncate, type ArmPath } from './http';
import type { FeatureRecord } from './state';

/** Features the simulator knows; anything else is `404 FeatureNotFound`. */
const KNOWN_FEATURES = ['Microsoft.Compute/EncryptionAtHost'];

function methodNotAllowed(method: string) {
  return armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${truncate(method, 12)}'.`);
}

export const ENCRYPTION_AT_HOST_FEATURE = 'Microsoft.Compute/EncryptionAtHost';

/** Sizes the SKU list reports (memory in GB); capabilities follow the size family. */
const SIZES: Record<string, number> = {
  Standard_B1s: 1,
  Standard_B1ms: 2,
  Standard_B2s: 4,
  Standard_B2ms: 8,
  Standard_DS1_v2: 3.5,
  Standard_DS2_v2: 7,
  Standard_D2s_v3: 8,
  Standard_D4s_v3: 16,
  Standard_D2s_v5: 8,
  Standard_D4s_v5: 16,
  Standard_D8s_v5: 32,
  Standard_E4s_v5: 32,
  Standard_A1_v2: 2,
  Basic_A1: 1.75,
};

/**
 * Whether a size supports encryption at host. A-series and Basic sizes do not; the simulator answers true for the
 * other families it knows, and the control API (`PUT /_sim/arm/skus/{size}`) overrides it per size.
 */
export function encryptionAtHostSupported(core: ArmCore, vmSize: string): boolean {
  const override = core.state.skuCapabilities?.[vmSize.toLowerCase()];
  if (override?.encryptionAtHostSupported !== undefined) return override.encryptionAtHostSupported;
  return !/^(Basic_|Standard_A\d)/i.test(vmSize);
}

export function featureState(core: ArmCore, subscriptionId: string, feature: string): FeatureRecord['state'] {
  return core.state.features?.[key(`${subscriptionId}|${feature}`)]?.state ?? 'NotRegistered';
}

export function setFeatureState(core: ArmCore, subscriptionId: string, feature: string, state: FeatureRecord['state']): FeatureRecord {
  const known = KNOWN_FEATURES.find((f) => eq(f, feature));
  if (!known) throw armError(404, 'FeatureNotFound', `The feature '${truncate(feature, 80)}' could not be found.`);
  const features = (core.state.features ??= {});
  const record: FeatureRecord = { subscriptionId, feature: known, state };
  features[key(`${subscriptionId}|${known}`)] = record;
  return record;
}

function featureJson(subscriptionId: string, feature: string, state: string): Record<string, unknown> {
  const [namespace, name] = feature.split('/') as [string, string];
  return {
    properties: { state },
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.Features/providers/${namespace}/features/${name}`,
    type: 'Microsoft.Features/providers/features',
    name: feature,
  };
}

/** `…/providers/Microsoft.Features/providers/{namespace}/features[/{name}[/register|unregister]]`. */
export async function handleFeatures(core: ArmCore, path: ArmPath, scope: RequestScope): Promise<SimResponse> {
  const sub = core.subscription(path.subscriptionId!, scope.principal);
  const [t0, t1, t2] = path.types.map((t) => t.toLowerCase());
  const namespace = path.names[0];
  if (t0 !== 'providers' || t1 !== 'features' || !namespace)
    throw armError(
      404,
      'InvalidResourceType',
      `The resource type '${truncate(path.types.join('/'), 80)}' could not be found in the namespace 'Microsoft.Features'.`,
    );
  const req = scope.req;
  if (path.types.length === 2 && path.collection) {
    if (req.method !== 'GET') throw methodNotAllowed(req.method);
    return json(200, {
      value: KNOWN_FEATURES.filter((f) => eq(f.split('/')[0], namespace)).map((f) =>
        featureJson(sub.subscriptionId, f, featureState(core, sub.subscriptionId, f)),
      ),
    });
  }
  const feature = `${namespace}/${path.names[1] ?? ''}`;
  const known = KNOWN_FEATURES.find((f) => eq(f, feature));
  if (!known) throw armError(404, 'FeatureNotFound', `The feature '${truncate(feature, 80)}' could not be found.`);
  if (path.types.length === 2) {
    if (req.method !== 'GET') throw methodNotAllowed(req.method);
    return json(200, featureJson(sub.subscriptionId, known, featureState(core, sub.subscriptionId, known)));
  }
  if (path.types.length === 3 && (t2 === 'register' || t2 === 'unregister')) {
    if (req.method !== 'POST') throw methodNotAllowed(req.method);
    const current = featureState(core, sub.subscriptionId, known);
    const [pending, final] = t2 === 'register' ? (['Registering', 'Registered'] as const) : (['Unregistering', 'Unregistered'] as const);
    if (current === final || current === pending) return json(200, featureJson(sub.subscriptionId, known, current));
    setFeatureState(core, sub.subscriptionId, known, pending);
    const generation = core.generation;
    core.background(`${t2} ${known}`, async () => {
      await core.sleep(core.durations.featureRegistration, generation);
      if (featureState(core, sub.subscriptionId, known) === pending) setFeatureState(core, sub.subscriptionId, known, final);
    });
    return json(200, featureJson(sub.subscriptionId, known, pending));
  }
  throw armError(404, 'InvalidResourceType', `The resource type '${truncate(path.types.join('/'), 80)}' could not be found.`);
}

/** `GET /subscriptions/{s}/providers/Microsoft.Compute/skus[?$filter=location eq '{l}']` (virtual machine sizes only). */
export function listSkus(core: ArmCore, subscriptionId: string, scope: RequestScope): SimResponse {
  if (scope.req.method !== 'GET') throw methodNotAllowed(scope.req.method);
  const filter = scope.req.query.get('$filter');
  let location: string | undefined;
  if (filter) {
    const m = /^\s*location\s+eq\s+'([A-Za-z0-9 ]+)'\s*$/i.exec(filter);
    if (!m)
      throw armError(
        400,
        'InvalidFilterInQueryString',
        `The $filter '${truncate(filter, 80)}' is not supported. Only "location eq '<location>'" is supported.`,
      );
    location = m[1]!.replace(/\s+/g, '').toLowerCase();
  }
  const locations = location ? [location] : ['westeurope', 'northeurope', 'eastus', 'eastus2', 'westus2', 'uksouth', 'swedencentral'];
  // Azure lists every size of the region; the simulator its own list plus every size a VM of the subscription uses.
  const sizes = new Map(Object.entries(SIZES).map(([name, memoryGB]) => [name.toLowerCase(), { name, memoryGB }]));
  for (const vm of Object.values(core.state.vms)) {
    if (eq(vm.subscriptionId, subscriptionId) && !sizes.has(vm.vmSize.toLowerCase()))
      sizes.set(vm.vmSize.toLowerCase(), { name: vm.vmSize, memoryGB: vm.memoryGB });
  }
  const value = [...sizes.values()].flatMap(({ name, memoryGB }) =>
    locations.map((l) => ({
      resourceType: 'virtualMachines',
      name,
      tier: name.startsWith('Basic_') ? 'Basic' : 'Standard',
      size: name.replace(/^(Standard|Basic)_/, ''),
      family: `standard${name.replace(/^(Standard|Basic)_/, '').replace(/\d.*$/, '')}Family`,
      locations: [l],
      locationInfo: [{ location: l, zones: ['1', '2', '3'], zoneDetails: [] }],
      capabilities: [
        { name: 'MemoryGB', value: String(memoryGB) },
        { name: 'EncryptionAtHostSupported', value: encryptionAtHostSupported(core, name) ? 'True' : 'False' },
        { name: 'PremiumIO', value: /s(_|$)/i.test(name) ? 'True' : 'False' },
      ],
      restrictions: [],
    })),
  );
  core.subscription(subscriptionId, scope.principal);
  return json(200, { value });
}
