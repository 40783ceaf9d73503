// The `vault` entity as a pure state machine: the provisioning lease (acquire / set / release, takeover
// after the deadline) and the check that a cached ready state names the vault a run computed.
import { describe, expect, it } from 'vitest';
import type { VaultReady } from '../../orchestrations/contracts';
import { vaultEntityStep, vaultReadyMatches, type VaultEntityState } from '../../orchestrations/entities';

const SUB = '11111111-2222-3333-4444-555555555555';
const vault = {
  id: `/subscriptions/${SUB}/resourceGroups/rg-ade-vaults/providers/Microsoft.KeyVault/vaults/adeap-weu-1a2b`,
  name: 'adeap-weu-1a2b',
  url: 'https://adeap-weu-1a2b.vault.azure.net',
};
const ready: VaultReady = { vault, kekUrl: `${vault.url}/keys/ade-kek/0123`, secretEvents: true };
const T0 = '2026-12-02T02:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
const lease = (holder: string, untilMinutes: number) => ({ holder, until: at(untilMinutes) });

type Case = [string, VaultEntityState | undefined, { name: string; input: unknown }, VaultEntityState | undefined, unknown];

describe('vault entity: provisioning lease', () => {
  const cases: Case[] = [
    ['get on a new vault → null', undefined, { name: 'get', input: null }, undefined, null],
    ['get hides the lease', { ...ready, lease: lease('a', 10) }, { name: 'get', input: null }, { ...ready, lease: lease('a', 10) }, ready],
    [
      'acquire a free vault → granted, nothing ready yet',
      undefined,
      { name: 'acquire', input: { holder: 'a', now: T0, until: at(10) } },
      { lease: lease('a', 10) },
      { granted: true, ready: null },
    ],
    [
      'acquire while another run holds an unexpired lease → refused with holder and deadline',
      { lease: lease('a', 10) },
      { name: 'acquire', input: { holder: 'b', now: at(3), until: at(13) } },
      { lease: lease('a', 10) },
      { granted: false, lease: lease('a', 10), ready: null },
    ],
    [
      'acquire at the deadline → taken over (the holder died or overran)',
      { lease: lease('a', 10) },
      { name: 'acquire', input: { holder: 'b', now: at(10), until: at(20) } },
      { lease: lease('b', 20) },
      { granted: true, ready: null },
    ],
    [
      'the holder asking again → granted, deadline extended',
      { lease: lease('a', 10) },
      { name: 'acquire', input: { holder: 'a', now: at(5), until: at(15) } },
      { lease: lease('a', 15) },
      { granted: true, ready: null },
    ],
    [
      'acquire once ready → granted with the ready state (the caller releases at once)',
      ready,
      { name: 'acquire', input: { holder: 'b', now: T0, until: at(10) } },
      { ...ready, lease: lease('b', 10) },
      { granted: true, ready },
    ],
    [
      'refused while a re-provisioning run holds it → still returns the ready state',
      { ...ready, lease: lease('a', 10) },
      { name: 'acquire', input: { holder: 'b', now: T0, until: at(10) } },
      { ...ready, lease: lease('a', 10) },
      { granted: false, lease: lease('a', 10), ready },
    ],
    [
      'set by the holder → ready state stored, lease released',
      { lease: lease('a', 10) },
      { name: 'set', input: { holder: 'a', ready } },
      ready,
      null,
    ],
    [
      'set replaces fields of an older state (no stale KEK lingers)',
      { ...ready, lease: lease('a', 10) },
      { name: 'set', input: { holder: 'a', ready: { vault, secretEvents: true } } },
      { vault, secretEvents: true },
      null,
    ],
    [
      'set by a holder that lost its lease → stored, but the new holder keeps its lease',
      { lease: lease('b', 20) },
      { name: 'set', input: { holder: 'a', ready } },
      { ...ready, lease: lease('b', 20) },
      null,
    ],
    ['release by the holder → lease gone', { ...ready, lease: lease('a', 10) }, { name: 'release', input: { holder: 'a' } }, ready, null],
    [
      'release of a lease-only state → entity deleted',
      { lease: lease('a', 10) },
      { name: 'release', input: { holder: 'a' } },
      undefined,
      null,
    ],
    [
      'release by someone else → no effect',
      { lease: lease('a', 10) },
      { name: 'release', input: { holder: 'b' } },
      { lease: lease('a', 10) },
      null,
    ],
    ['reset → deleted', { ...ready, lease: lease('a', 10) }, { name: 'reset', input: null }, undefined, null],
  ];
  it.each(cases)('%s', (_what, state, op, nextState, result) => {
    const step = vaultEntityStep(state, op);
    expect(step.state).toEqual(nextState);
    expect(step.result ?? null).toEqual(result);
  });

  it.each([
    ['acquire without holder', { name: 'acquire', input: { now: T0, until: at(1) } }, /"acquire" needs \{ holder, now, until \}/],
    ['acquire with a bad time', { name: 'acquire', input: { holder: 'a', now: 'soon', until: at(1) } }, /ISO 8601/],
    ['set without holder', { name: 'set', input: { ready } }, /"set" needs \{ holder, ready \}/],
    ['set without a vault', { name: 'set', input: { holder: 'a', ready: {} } }, /ready\.vault/],
    ['release without holder', { name: 'release', input: {} }, /"release" needs \{ holder \}/],
    ['unknown operation', { name: 'lock', input: null }, /unknown operation "lock"/],
  ])('refuses %s', (_what, op, message) => {
    expect(() => vaultEntityStep(undefined, op)).toThrow(message);
  });
});

describe('vaultReadyMatches: cached state is used only for the vault the run computed', () => {
  const expected = { subscriptionId: SUB, resourceGroup: 'rg-ade-vaults', names: ['adeap-weu-1a2b', 'adeap-weu-9f8e'] };
  it.each([
    ['the same vault (ids compared case-insensitively)', { ...ready, vault: { ...vault, id: vault.id.toLowerCase() } }, true],
    ['no state', null, false],
    ['another vault name', { ...ready, vault: { ...vault, name: 'evil-vault' } }, false],
    ['another resource group', { ...ready, vault: { ...vault, id: vault.id.replace('rg-ade-vaults', 'rg-other') } }, false],
    ['another subscription', { ...ready, vault: { ...vault, id: vault.id.replace(SUB, '99999999-2222-3333-4444-555555555555') } }, false],
    ['a URL of another vault', { ...ready, vault: { ...vault, url: 'https://evil.vault.azure.net' } }, false],
    ['a plain-http URL', { ...ready, vault: { ...vault, url: 'http://adeap-weu-1a2b.vault.azure.net' } }, false],
    ['a KEK in another vault', { ...ready, kekUrl: 'https://evil.vault.azure.net/keys/ade-kek/0123' }, false],
    ['no KEK (single-pass without KEK)', { vault, secretEvents: true }, true],
    [
      'a fallback name of the same region',
      {
        vault: {
          id: vault.id.replace('adeap-weu-1a2b', 'adeap-weu-9f8e'),
          name: 'adeap-weu-9f8e',
          url: 'https://adeap-weu-9f8e.vault.azure.net',
        },
      },
      true,
    ],
  ] as Array<[string, VaultReady | null, boolean]>)('%s → %s', (_what, state, ok) => {
    expect(vaultReadyMatches(state, expected)).toBe(ok);
  });
});
