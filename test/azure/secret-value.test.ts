import { inspect, format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretValue, isSecretValue, REDACTED_TEXT } from '../../azure/secret-value';

const SECRET = 'Sup3r~S3cret.Value_from-Entra';

describe('SecretValue redaction', () => {
  const holder = { keyId: 'k1', secret: new SecretValue(SECRET) };
  const renderings: Array<[string, () => string]> = [
    ['JSON.stringify of the value', () => JSON.stringify(new SecretValue(SECRET))],
    ['JSON.stringify of an object holding it', () => JSON.stringify(holder)],
    ['util.inspect', () => inspect(holder, { depth: 10, showHidden: true })],
    ['util.format %o', () => format('%o', holder)],
    ['util.format %s', () => format('%s', holder.secret)],
    ['String()', () => String(holder.secret)],
    ['template literal', () => `${holder.secret}`],
    ['string concatenation', () => 'x' + holder.secret],
    ['Object.entries', () => JSON.stringify(Object.entries(holder.secret))],
    ['spread copy', () => JSON.stringify({ ...holder.secret })],
    ['structuredClone', () => JSON.stringify(structuredClone({ ...holder.secret }))],
    ['Error message built from it', () => new Error(`failed with ${holder.secret}`).message],
  ];

  it.each(renderings)('%s never shows the secret', (_name, render) => {
    const text = render();
    expect(text).not.toContain(SECRET);
  });

  it('prints [redacted] where it would print the value', () => {
    expect(JSON.stringify(holder)).toBe(`{"keyId":"k1","secret":"${REDACTED_TEXT}"}`);
    expect(`${holder.secret}`).toBe(REDACTED_TEXT);
    expect(inspect(holder.secret)).toBe(REDACTED_TEXT);
  });

  it('reveal() returns the real value', () => {
    expect(holder.secret.reveal()).toBe(SECRET);
    expect(isSecretValue(holder.secret)).toBe(true);
    expect(isSecretValue(SECRET)).toBe(false);
  });

  it('is immutable and rejects empty secrets', () => {
    expect(() => new SecretValue('')).toThrow(TypeError);
    expect(Object.isFrozen(holder.secret)).toBe(true);
  });
});
