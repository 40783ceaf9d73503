/**
 * On the platform (here: the host presenting Flex Consumption's variables) the app refuses to start without
 * ADE_FUNCTION_APP_RESOURCE_ID, naming the setting: it cannot derive its own resource id there, and without
 * one no vault would get secret events.
 */
import { describe, expect, it } from 'vitest';
import { startHost } from '../../local/host/index';
import { REPO_ROOT } from './harness';

describe('start-up on Flex Consumption', () => {
  it('fails without ADE_FUNCTION_APP_RESOURCE_ID, naming it', async () => {
    const started = startHost({
      appDir: REPO_ROOT,
      port: 0,
      keys: false,
      platform: { plan: 'flex-consumption', siteName: 'func-ade' },
      env: { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555', ADE_SECRET_EVENTS_WEBHOOK_URL: '' },
    });
    const error = await started.then(
      async (host) => {
        await host.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/Invalid configuration \(1 problem\)/);
    expect(error!.message).toMatch(/ADE_FUNCTION_APP_RESOURCE_ID: is required in Azure \(this is Function App "func-ade"\)/);
  }, 180_000);
});
