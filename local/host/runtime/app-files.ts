/**
 * Reading an app folder the way the Functions host and Node worker do: host.json, local.settings.json and the
 * package.json `main` glob (src/startApp.ts in the worker expands it; files load in sorted order).
 */
import fs from 'node:fs';
import path from 'node:path';

export class AppLoadError extends Error {
  override name = 'AppLoadError';
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppLoadError(`Cannot read ${what} at ${file}: ${(err as Error).message}`);
  }
  try {
    // host.json and local.settings.json may start with a BOM when written by Windows tools.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new AppLoadError(`${what} at ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

export function readHostJson(appDir: string): Record<string, any> {
  const file = path.join(appDir, 'host.json');
  if (!fs.existsSync(file)) return { version: '2.0' };
  const json = readJsonFile(file, 'host.json');
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AppLoadError(`host.json at ${file} must be a JSON object`);
  return json as Record<string, any>;
}

/** `Values` of local.settings.json (all coerced to strings, as the host does), or {} when the file is absent. */
export function readLocalSettings(appDir: string): Record<string, string> {
  const file = path.join(appDir, 'local.settings.json');
  if (!fs.existsSync(file)) return {};
  const json = readJsonFile(file, 'local.settings.json') as { Values?: Record<string, unknown> };
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(json?.Values ?? {})) {
    if (value !== null && value !== undefined) values[key] = String(value);
  }
  return values;
}

export interface AppPackage {
  main: string;
  isModule: boolean;
}

export function readAppPackage(appDir: string): AppPackage {
  const file = path.join(appDir, 'package.json');
  const json = readJsonFile(file, 'package.json') as { main?: unknown; type?: unknown };
  if (typeof json.main !== 'string' || json.main.trim() === '') {
    throw new AppLoadError(`package.json at ${file} has no "main": the host needs it to find the app's entry point(s).`);
  }
  return { main: json.main, isModule: json.type === 'module' };
}

/** Expands `{a,b}` alternatives (nested allowed). */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) {
      const parts: string[] = [];
      let from = open + 1;
      for (const comma of commas) {
        parts.push(pattern.slice(from, comma));
        from = comma + 1;
      }
      parts.push(pattern.slice(from, i));
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      return parts.flatMap((part) => expandBraces(head + part + tail));
    } else if (ch === ',' && depth === 1) commas.push(i);
  }
  return [pattern];
}

function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, segments: string[], out: Set<string>): void {
  if (segments.length === 0) {
    if (fs.existsSync(dir) && fs.statSync(dir).isFile()) out.add(dir);
    return;
  }
  const [segment, ...rest] = segments;
  if (segment === '**') {
    walk(dir, rest, out);
    for (const entry of safeReaddir(dir)) {
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path.join(dir, entry.name), segments, out);
    }
    return;
  }
  if (!/[*?[]/.test(segment)) return walk(path.join(dir, segment), rest, out);
  const re = segmentRegex(segment);
  for (const entry of safeReaddir(dir)) {
    if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
    if (re.test(entry.name)) walk(path.join(dir, entry.name), rest, out);
  }
}

function safeReaddir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Files matching the `main` glob, relative to appDir, sorted; an empty match is an error, as in the worker. */
export function resolveEntryPoints(appDir: string, main: string): string[] {
  const found = new Set<string>();
  for (const pattern of expandBraces(main)) {
    const segments = pattern
      .replace(/\\/g, '/')
      .replace(/^\.\//, '')
      .split('/')
      .filter((s) => s !== '' && s !== '.');
    walk(path.resolve(appDir), segments, found);
  }
  const files = [...found].sort();
  if (files.length === 0) {
    throw new AppLoadError(`Found zero files matching the supplied pattern "${main}" (package.json "main") in ${appDir}`);
  }
  return files;
}
