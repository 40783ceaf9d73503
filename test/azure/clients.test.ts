/**
 * createAzurePorts: one credential per process, chosen from config, adapters built lazily.
 */
import { ClientSecretCredential, EnvironmentCredential, ManagedIdentityCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { createAzurePorts, createCredential } from '../../azure/clients';

describe('createCredential', () => {
  const secretEnv = {
    AZURE_TENANT_ID: '00000000-0000-0000-0000-00000000000a',
    AZURE_CLIENT_ID: '00000000-0000-0000-0000-00000000000b',
    AZURE_CLIENT_SECRET: 'not-a-real-secret',
  };
  it.each([
    { name: 'managed identity, system-assigned', auth: { mode: 'managed-identity' as const }, env: {}, type: ManagedIdentityCredential },
    {
      name: 'managed identity, user-assigned',
      auth: { mode: 'managed-identity' as const, clientId: '00000000-0000-0000-0000-00000000000c' },
      env: {},
      type: ManagedIdentityCredential,
    },
    { name: 'environment with a client secret', auth: { mode: 'environment' as const }, env: secretEnv, type: ClientSecretCredential },
    {
      name: 'environment without a secret (certificate, workload identity…)',
      auth: { mode: 'environment' as const },
      env: {},
      type: EnvironmentCredential,
    },
  ])('$name', ({ auth, env, type }) => {
    expect(createCredential({ auth }, env)).toBeInstanceOf(type);
  });

  it('rejects an unknown mode naming the setting', () => {
    expect(() => createCredential({ auth: { mode: 'password' as never } }, {})).toThrow(
      expect.objectContaining({ kind: 'validation', field: 'ADE_AUTH_MODE' }),
    );
  });
});

describe('createAzurePorts', () => {
  it('builds nothing until a port is used, then keeps the same adapter', () => {
    let built = 0;
    const counting = { getToken: () => Promise.resolve(null) };
    const ports = createAzurePorts(
      { auth: { mode: 'environment' } },
      { credential: new Proxy(counting, { get: (t, p) => (built++, Reflect.get(t, p)) }) },
    );
    expect(built).toBe(0);
    expect(ports.compute).toBe(ports.compute);
    expect(ports.vaults).toBe(ports.vaults);
    expect(ports.directory).toBe(ports.directory);
  });
});
