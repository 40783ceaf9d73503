/**
 * The environment variables the App Service platform sets on a Function App, per hosting plan, so an app can
 * be run locally as it would see itself in Azure. Documented: WEBSITE_SITE_NAME, WEBSITE_RESOURCE_GROUP,
 * WEBSITE_OWNER_NAME, REGION_NAME (https://learn.microsoft.com/azure/app-service/reference-app-settings#app-environment),
 * WEBSITE_SKU (https://learn.microsoft.com/azure/azure-functions/functions-app-settings). Flex Consumption
 * sets no WEBSITE_RESOURCE_GROUP and a WEBSITE_OWNER_NAME of the form `<subscription>+flex-<hash>-webspace`
 * instead of `<subscription>+<resource group>-<region>webspace[-Linux]`
 * (https://github.com/Azure/Azure-Functions/issues/2593).
 */
import { createHash } from 'node:crypto';

export const HOSTING_PLANS = ['flex-consumption', 'elastic-premium'] as const;
export type HostingPlan = (typeof HOSTING_PLANS)[number];

export interface PlatformOptions {
  plan: HostingPlan;
  /** The site the app pretends to be; defaults keep a plain `--platform <plan>` usable. */
  subscriptionId?: string;
  resourceGroup?: string;
  siteName?: string;
  /** ARM location name, e.g. `westeurope`. */
  location?: string;
}

export interface PlatformEnvironment {
  /** Variables the platform sets (they win over app settings). */
  set: Record<string, string>;
  /** Variables this plan does not have (removed even if the developer's shell has them). */
  unset: string[];
}

export const PLATFORM_DEFAULTS = {
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  resourceGroup: 'rg-functions',
  siteName: 'func-local',
  location: 'westeurope',
} as const;

const SKU: Record<HostingPlan, string> = { 'flex-consumption': 'FlexConsumption', 'elastic-premium': 'ElasticPremium' };

export function isHostingPlan(value: string): value is HostingPlan {
  return (HOSTING_PLANS as readonly string[]).includes(value);
}

/** The site's own ARM resource id (what infra/main.json hands the app as ADE_FUNCTION_APP_RESOURCE_ID). */
export function platformSiteResourceId(options: PlatformOptions): string {
  const site = { ...PLATFORM_DEFAULTS, ...definedOnly(options) };
  return `/subscriptions/${site.subscriptionId}/resourceGroups/${site.resourceGroup}/providers/Microsoft.Web/sites/${site.siteName}`;
}

export function platformEnvironment(options: PlatformOptions): PlatformEnvironment {
  const site = { ...PLATFORM_DEFAULTS, ...definedOnly(options) };
  const set: Record<string, string> = {
    WEBSITE_SITE_NAME: site.siteName,
    WEBSITE_SKU: SKU[options.plan],
    REGION_NAME: site.location,
  };
  if (options.plan === 'flex-consumption') {
    // A per-site hash stands where Premium has the resource group and region; the group is not recoverable.
    const hash = createHash('sha256').update(`${site.subscriptionId}/${site.resourceGroup}/${site.siteName}`.toLowerCase()).digest('hex');
    set.WEBSITE_OWNER_NAME = `${site.subscriptionId}+flex-${hash}-webspace`;
    return { set, unset: ['WEBSITE_RESOURCE_GROUP'] };
  }
  set.WEBSITE_RESOURCE_GROUP = site.resourceGroup;
  set.WEBSITE_OWNER_NAME = `${site.subscriptionId}+${site.resourceGroup}-${site.location}webspace-Linux`;
  return { set, unset: [] };
}

/** `/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<name>` → its parts; undefined if it is not one. */
export function parseSiteResourceId(id: string): Pick<PlatformOptions, 'subscriptionId' | 'resourceGroup' | 'siteName'> | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/sites\/([^/]+)\/?$/i.exec(id.trim());
  return m ? { subscriptionId: m[1]!, resourceGroup: m[2]!, siteName: m[3]! } : undefined;
}

function definedOnly(options: PlatformOptions): Partial<typeof PLATFORM_DEFAULTS> {
  return Object.fromEntries(
    Object.entries({
      subscriptionId: options.subscriptionId,
      resourceGroup: options.resourceGroup,
      siteName: options.siteName,
      location: options.location,
    }).filter(([, v]) => v !== undefined && v !== ''),
  );
}
