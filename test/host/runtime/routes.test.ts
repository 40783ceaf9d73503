import { describe, expect, it } from 'vitest';
import { compileRoute, matchRoute, RouteTemplateError, sortRoutes } from '../../../local/host/runtime/routes';

describe('route templates', () => {
  const cases: [template: string, path: string, expected: Record<string, string> | undefined][] = [
    ['api/hello', '/api/hello', {}],
    ['api/hello', '/API/Hello/', {}],
    ['api/hello', '/api/hello/x', undefined],
    ['api/items/{id}', '/api/items/42', { id: '42' }],
    ['api/items/{id}', '/api/items', undefined],
    ['api/items/{id}', '/api/items/a%20b', { id: 'a b' }],
    ['api/items/{id:int}', '/api/items/42', { id: '42' }],
    ['api/items/{id:int}', '/api/items/abc', undefined],
    ['api/items/{id:int}', '/api/items/99999999999', undefined],
    ['api/items/{id:long}', '/api/items/99999999999', { id: '99999999999' }],
    ['api/items/{id:int?}', '/api/items', {}],
    ['api/items/{id:int?}', '/api/items/7', { id: '7' }],
    ['api/items/{id=5}', '/api/items', { id: '5' }],
    ['api/files/{*path}', '/api/files/a/b/c.txt', { path: 'a/b/c.txt' }],
    ['api/files/{*path}', '/api/files', {}],
    ['api/g/{id:guid}', '/api/g/0f8fad5b-d9cb-469f-a165-70867728950e', { id: '0f8fad5b-d9cb-469f-a165-70867728950e' }],
    ['api/g/{id:guid}', '/api/g/nope', undefined],
    ['api/b/{flag:bool}', '/api/b/TRUE', { flag: 'TRUE' }],
    ['api/b/{flag:bool}', '/api/b/yes', undefined],
    ['api/a/{name:alpha:minlength(2)}', '/api/a/ab', { name: 'ab' }],
    ['api/a/{name:alpha:minlength(2)}', '/api/a/a', undefined],
    ['api/a/{name:alpha:minlength(2)}', '/api/a/a1', undefined],
    ['api/r/{n:range(1,10)}', '/api/r/10', { n: '10' }],
    ['api/r/{n:range(1,10)}', '/api/r/11', undefined],
    ['api/l/{s:length(3)}', '/api/l/abc', { s: 'abc' }],
    ['api/l/{s:length(2,3)}', '/api/l/abcd', undefined],
    ['api/x/{code:regex(^[a-z]{{2}}\\d+$)}', '/api/x/ab12', { code: 'ab12' }],
    ['api/x/{v:min(5)}/{w:max(5)}', '/api/x/5/5', { v: '5', w: '5' }],
    ['api/x/{v:min(5)}/{w:max(5)}', '/api/x/4/5', undefined],
    ['api/d/{when:datetime}', '/api/d/2024-01-02', { when: '2024-01-02' }],
    ['api/n/{v:double}', '/api/n/1.5e3', { v: '1.5e3' }],
    ['', '/', {}],
  ];
  it.each(cases)('%s matches %s → %j', (template, path, expected) => {
    expect(matchRoute(compileRoute(template.replace('{{2}}', '{2}'), null), path)).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['api/{id:unknown}', /Unknown route constraint 'unknown'/],
    ['api/{*rest}/more', /catch-all parameter must be the last/],
    ['api/{id?}/more', /optional parameter must be at the end/],
    ['api/{a}/{a}', /appears twice/],
    ['api/pre{id}', /Complex segments/],
    ['api/{bad-name}', /Invalid parameter name/],
  ];
  it.each(invalid)('rejects %s', (template, message) => {
    expect(() => compileRoute(template, null)).toThrow(RouteTemplateError);
    expect(() => compileRoute(template, null)).toThrow(message);
  });

  it('orders literal routes before parameters and catch-alls', () => {
    const routes = sortRoutes(['api/{*rest}', 'api/{id}', 'api/{id:int}', 'api/special'].map((t) => compileRoute(t, t)));
    expect(routes.map((r) => r.target)).toEqual(['api/special', 'api/{id:int}', 'api/{id}', 'api/{*rest}']);
  });
});
