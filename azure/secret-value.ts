/**
 * A secret (e.g. an Entra client secret) that cannot leak by accident: JSON.stringify, util.inspect
 * / console.log, String() and template literals all print `[redacted]`. Only {@link SecretValue.reveal}
 * returns the real text, at the one place that must hand it to an SDK.
 *
 * The value lives in a private class field, so it is not an enumerable property either: spreading,
 * structuredClone-ing or Object.entries() of a SecretValue never copies it.
 */
const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom');

export const REDACTED_TEXT = '[redacted]';

export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string' || value === '') throw new TypeError('SecretValue needs a non-empty string');
    this.#value = value;
    Object.freeze(this);
  }

  /** The secret itself. Pass it straight to the SDK call that needs it; never log or store it. */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED_TEXT;
  }

  toString(): string {
    return REDACTED_TEXT;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED_TEXT;
  }

  [inspectSymbol](): string {
    return REDACTED_TEXT;
  }
}

export function isSecretValue(value: unknown): value is SecretValue {
  return value instanceof SecretValue;
}
