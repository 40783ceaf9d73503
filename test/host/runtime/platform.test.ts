// The platform variables the host presents per hosting plan (`--platform` / startHost's `platform`).
import { describe, expect, it } from 'vitest';
import {
  parseSiteResourceId,
  platformEnvironment,
  platformSiteResourceId,
  type PlatformOptions,
} from '../../../local/host/runtime/platform';

const SITE = {
  subscriptionId: '11111111-2222-3333-4444-555555555555',
  resourceGroup: 'rg-ade',
  siteName: 'func-ade',
  location: 'westeurope',
};

describe('platformEnvironment', () => {
  it.each([
    [
      'elastic-premium',
      {
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_SKU: 'ElasticPremium',
        REGION_NAME: 'westeurope',
        WEBSITE_RESOURCE_GROUP: 'rg-ade',
        WEBSITE_OWNER_NAME: '11111111-2222-3333-4444-555555555555+rg-ade-westeuropewebspace-Linux',
      },
      [],
    ],
    [
      'flex-consumption',
      {
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_SKU: 'FlexConsumption',
        REGION_NAME: 'westeurope',
        WEBSITE_OWNER_NAME: expect.stringMatching(/^11111111-2222-3333-4444-555555555555\+flex-[0-9a-f]{64}-webspace$/),
      },
      ['WEBSITE_RESOURCE_GROUP'],
    ],
  ] as const)('%s', (plan, set, unset) => {
    const env = platformEnvironment({ plan, ...SITE });
    expect(env.set).toEqual(set);
    expect(env.unset).toEqual(unset);
  });

  it('Flex Consumption: the owner name does not reveal the resource group, and differs per site', () => {
    const a = platformEnvironment({ plan: 'flex-consumption', ...SITE }).set.WEBSITE_OWNER_NAME!;
    const b = platformEnvironment({ plan: 'flex-consumption', ...SITE, siteName: 'func-other' }).set.WEBSITE_OWNER_NAME!;
    expect(a).not.toContain('rg-ade');
    expect(a).not.toBe(b);
  });

  it('defaults keep a bare plan usable, and the site id matches the variables', () => {
    const options: PlatformOptions = { plan: 'flex-consumption' };
    expect(platformEnvironment(options).set.WEBSITE_SITE_NAME).toBe('func-local');
    expect(platformSiteResourceId(options)).toBe(
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-functions/providers/Microsoft.Web/sites/func-local',
    );
  });

  it.each([
    ['/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app', { subscriptionId: 's', resourceGroup: 'rg', siteName: 'app' }],
    ['/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/functions/x', undefined],
    ['func-ade', undefined],
  ])('parseSiteResourceId(%s)', (id, expected) => {
    expect(parseSiteResourceId(id)).toEqual(expected);
  });
});
