/**
 * Configuration is validated once, when the app loads: a bad setting stops the host from starting,
 * with the ConfigError message naming every bad setting (and no secret value).
 */
import { describe, expect, it } from 'vitest';
import { startHost } from '../../local/host/index';
import { REPO_ROOT } from './harness';

describe('start-up with a bad configuration', () => {
  it('fails to load the app, naming each bad setting and what was expected', async () => {
    const secret = 'do-not-print-this-secret-value';
    const started = startHost({
      appDir: REPO_ROOT,
      port: 0,
      keys: false,
      env: {
        ADE_SUBSCRIPTIONS: 'not-a-guid',
        ADE_KEK_SIZE: '1024',
        ADE_AUTH_MODE: 'environment',
        AZURE_CLIENT_SECRET: secret,
        AZURE_TENANT_ID: '',
        AZURE_CLIENT_ID: '',
      },
    });
    const error = await started.then(
      async (host) => {
        await host.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/Invalid configuration \(\d+ problems\)/);
    expect(error!.message).toMatch(/ADE_SUBSCRIPTIONS: expected comma-separated subscription GUIDs/);
    expect(error!.message).toMatch(/ADE_KEK_SIZE: expected 2048, 3072 or 4096/);
    expect(error!.message).toMatch(/ADE_AUTH_MODE: "environment" needs AZURE_TENANT_ID, AZURE_CLIENT_ID to be set/);
    expect(error!.message).not.toContain(secret);
  }, 180_000);
});
