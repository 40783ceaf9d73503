// Activities honour Retry-After carried in a retryable error: the Durable retry that follows never comes early.
import { describe, expect, it } from 'vitest';
import { ThrottledError, TransientError, ValidationError } from '../../core/errors';
import { runActivity } from '../../orchestrations/activities';

const quiet = () => undefined;

describe('runActivity and Retry-After', () => {
  it.each([
    ['429 with Retry-After 300 ms', new ThrottledError('throttled', { retryAfterMs: 300 }), 300],
    ['503 with Retry-After 200 ms', new TransientError('busy', { retryAfterMs: 200 }), 200],
  ])('%s: waits it out, then throws for the Durable retry', async (_what, error, waitMs) => {
    const started = Date.now();
    await expect(
      runActivity(quiet, 'probe', async () => {
        throw error;
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(waitMs - 5);
  });

  it('a retryable error without Retry-After is thrown at once', async () => {
    const started = Date.now();
    await expect(
      runActivity(quiet, 'probe', async () => {
        throw new TransientError('reset');
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('a non-retryable error comes back as data, with no wait', async () => {
    const result = await runActivity(quiet, 'probe', async () => {
      throw new ValidationError('bad', { field: 'x' });
    });
    expect(result).toMatchObject({ ok: false, error: { kind: 'validation', retryable: false } });
  });
});
