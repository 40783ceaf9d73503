import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppLoadError,
  expandBraces,
  readAppPackage,
  readHostJson,
  readLocalSettings,
  resolveEntryPoints,
} from '../../../local/host/runtime/app-files';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'app-files-'));
  for (const f of [
    'index.js',
    'dist/functions/a.js',
    'dist/functions/b.js',
    'dist/functions/b.js.map',
    'dist/orchestrations/o.js',
    'dist/deep/x/y.js',
    'node_modules/m/z.js',
  ]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), '');
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('app files', () => {
  it.each([
    ['a{b,c}d', ['abd', 'acd']],
    ['{x,y{1,2}}', ['x', 'y1', 'y2']],
    ['plain', ['plain']],
  ])('expands braces in %s', (pattern, expected) => expect(expandBraces(pattern)).toEqual(expected));

  it.each([
    ['dist/functions/*.js', ['dist/functions/a.js', 'dist/functions/b.js']],
    ['dist/{functions,orchestrations}/*.js', ['dist/functions/a.js', 'dist/functions/b.js', 'dist/orchestrations/o.js']],
    ['{index.js,dist/functions/a.js}', ['dist/functions/a.js', 'index.js']],
    ['./index.js', ['index.js']],
    ['dist/**/*.js', ['dist/deep/x/y.js', 'dist/functions/a.js', 'dist/functions/b.js', 'dist/orchestrations/o.js']],
    ['dist/functions/[ab].js', ['dist/functions/a.js', 'dist/functions/b.js']],
  ])('resolves main %s', (main, expected) => {
    expect(resolveEntryPoints(dir, main).map((f) => path.relative(dir, f).split(path.sep).join('/'))).toEqual(expected);
  });

  it('fails clearly when main matches nothing or is missing', () => {
    expect(() => resolveEntryPoints(dir, 'dist/nothing/*.js')).toThrow(
      /Found zero files matching the supplied pattern "dist\/nothing\/\*\.js"/,
    );
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"x"}');
    expect(() => readAppPackage(dir)).toThrow(/has no "main"/);
    fs.writeFileSync(path.join(dir, 'package.json'), '{"main":"index.js","type":"module"}');
    expect(readAppPackage(dir)).toEqual({ main: 'index.js', isModule: true });
  });

  it('reads host.json and local.settings.json (BOM tolerated, values as strings), with clear errors', () => {
    expect(readHostJson(dir)).toEqual({ version: '2.0' });
    fs.writeFileSync(path.join(dir, 'host.json'), '\uFEFF{"version":"2.0","extensions":{"http":{"routePrefix":""}}}');
    expect(readHostJson(dir).extensions.http.routePrefix).toBe('');
    fs.writeFileSync(path.join(dir, 'local.settings.json'), '{"Values":{"A":"1","B":2,"C":true,"D":null}}');
    expect(readLocalSettings(dir)).toEqual({ A: '1', B: '2', C: 'true' });
    fs.writeFileSync(path.join(dir, 'host.json'), '{oops');
    expect(() => readHostJson(dir)).toThrow(AppLoadError);
    expect(() => readHostJson(dir)).toThrow(/host.json at .* is not valid JSON/);
  });
});
