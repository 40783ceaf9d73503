// Pure helpers of the engine: retry backoff (DTFx RetryInterceptor), action flattening order, encodings.
import { describe, expect, it } from 'vitest';
import {
  ActionType,
  actionLabel,
  flattenActions,
  parseJsonText,
  processedInputToJsonText,
  retryDelayMs,
  statusTime,
  toJsonText,
} from '../../../local/host/durable/history';
import { entitySchedulerId, parseSchedulerId } from '../../../local/host/durable/engine';

describe('retryDelayMs', () => {
  it.each([
    [{ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 }, 1, 1000],
    [{ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 }, 4, 1000],
    [{ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, backoffCoefficient: 2 }, 1, 1000],
    [{ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, backoffCoefficient: 2 }, 3, 4000],
    [
      { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 3000 },
      3,
      3000,
    ],
    [{ firstRetryIntervalInMilliseconds: 500, maxNumberOfAttempts: 5, backoffCoefficient: 1.5 }, 2, 750],
    [{ firstRetryIntervalInMilliseconds: 500, maxNumberOfAttempts: 5, backoffCoefficient: 0 }, 3, 500],
  ])('%j after failure %i waits %i ms', (opts, failures, expected) => {
    expect(retryDelayMs(opts, failures)).toBe(expected);
  });
});

describe('flattenActions', () => {
  it('flattens WhenAll/WhenAny depth-first in yield order (the id allocation order)', () => {
    const a = (n: string) => ({ actionType: ActionType.CallActivity, functionName: n });
    const actions = [
      a('first'),
      {
        actionType: ActionType.WhenAll,
        compoundActions: [
          a('x1'),
          {
            actionType: ActionType.WhenAny,
            compoundActions: [a('y1'), { actionType: ActionType.CreateTimer, fireAt: '2030-01-01T00:00:00Z' }],
          },
          a('x2'),
        ],
      },
      { actionType: ActionType.WaitForExternalEvent, externalEventName: 'Go' },
    ];
    expect(flattenActions(actions).map((x) => actionLabel(x) || x.actionType)).toEqual([
      'first',
      'x1',
      'y1',
      ActionType.CreateTimer,
      'x2',
      'Go',
    ]);
  });
});

describe('encodings', () => {
  it.each([
    ['a string already JSON-encoded by processInput', '"Tokyo"', '"Tokyo"'],
    ['an object', { a: 1 }, '{"a":1}'],
    ['a number', 5, '5'],
    ['undefined', undefined, 'null'],
  ])('activity input text of %s', (_label, input, expected) => {
    expect(processedInputToJsonText(input)).toBe(expected);
  });

  it.each([
    [undefined, 'null'],
    [null, 'null'],
    ['x', '"x"'],
    [[1, { b: true }], '[1,{"b":true}]'],
  ])('toJsonText(%j) = %s', (value, expected) => {
    expect(toJsonText(value)).toBe(expected);
  });

  it('parses stored JSON text and keeps non-JSON text as is', () => {
    expect(parseJsonText('{"a":[1]}')).toEqual({ a: [1] });
    expect(parseJsonText(null)).toBeNull();
    expect(parseJsonText('')).toBeNull();
    expect(parseJsonText('not json')).toBe('not json');
  });

  it('formats status times without milliseconds', () => {
    expect(statusTime(Date.UTC(2026, 10, 27, 23, 5, 9, 123))).toBe('2026-11-27T23:05:09Z');
  });

  it('builds entity scheduler ids like durable-functions (lower-cased name, key as is)', () => {
    expect(entitySchedulerId('Counter', 'Key@1')).toBe('@counter@Key@1');
    expect(parseSchedulerId('@counter@Key@1')).toEqual({ name: 'counter', key: 'Key@1' });
  });
});
