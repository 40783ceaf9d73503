/**
 * ASP.NET-style route templates as the Functions host uses them: literals, `{name}`, `{name?}`, `{*rest}`,
 * `{name:constraint}` (int, long, bool, double, float, decimal, guid, datetime, alpha, min(n), max(n),
 * range(a,b), minlength(n), maxlength(n), length(n) / length(a,b), regex(expr)), defaults `{name=value}`.
 * Literal matching is case-insensitive; more specific templates win.
 */

export class RouteTemplateError extends Error {
  override name = 'RouteTemplateError';
}

type Constraint = (value: string) => boolean;

interface ParamSegment {
  kind: 'param';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: Constraint[];
}
type Segment = { kind: 'literal'; text: string } | ParamSegment;

export interface CompiledRoute<T> {
  template: string;
  segments: Segment[];
  target: T;
  /** Lower ranks first: literal > constrained param > param > optional > catch-all, segment by segment. */
  rank: number[];
}

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseConstraint(spec: string, template: string): Constraint {
  const match = /^(\w+)(?:\((.*)\))?$/s.exec(spec);
  if (!match) throw new RouteTemplateError(`Invalid constraint '${spec}' in route '${template}'`);
  const [, name, rawArgs] = match;
  const args = rawArgs === undefined ? [] : name === 'regex' ? [rawArgs] : rawArgs.split(',').map((a) => a.trim());
  const num = (i: number) => {
    const n = Number(args[i]);
    if (!Number.isFinite(n)) throw new RouteTemplateError(`Constraint '${spec}' in route '${template}' needs a number`);
    return n;
  };
  switch (name.toLowerCase()) {
    case 'int':
      return (v) => /^[+-]?\d+$/.test(v) && Math.abs(Number(v)) <= 2147483648 && Number(v) <= 2147483647;
    case 'long':
      return (v) => /^[+-]?\d+$/.test(v) && BigInt(v) <= 9223372036854775807n && BigInt(v) >= -9223372036854775808n;
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'double':
    case 'float':
    case 'decimal':
      return (v) => numberPattern.test(v);
    case 'guid':
      return (v) => /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'min': {
      const n = num(0);
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) >= n;
    }
    case 'max': {
      const n = num(0);
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) <= n;
    }
    case 'range': {
      const a = num(0);
      const b = num(1);
      return (v) => /^[+-]?\d+$/.test(v) && Number(v) >= a && Number(v) <= b;
    }
    case 'minlength': {
      const n = num(0);
      return (v) => v.length >= n;
    }
    case 'maxlength': {
      const n = num(0);
      return (v) => v.length <= n;
    }
    case 'length': {
      const a = num(0);
      const b = args.length > 1 ? num(1) : a;
      return (v) => v.length >= a && v.length <= b;
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(args[0] ?? '', 'i');
      } catch {
        throw new RouteTemplateError(`Invalid regex constraint in route '${template}'`);
      }
      return (v) => re.test(v);
    }
    default:
      throw new RouteTemplateError(`Unknown route constraint '${name}' in route '${template}'`);
  }
}

/** Splits `name:c1:c2(x)` respecting parentheses (regex constraints may contain ':'). */
function splitConstraints(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function parseSegment(raw: string, template: string): Segment {
  if (!raw.startsWith('{')) {
    if (raw.includes('{') || raw.includes('}'))
      throw new RouteTemplateError(`Complex segments are not supported in route '${template}': '${raw}'`);
    return { kind: 'literal', text: raw.toLowerCase() };
  }
  if (!raw.endsWith('}')) throw new RouteTemplateError(`Unbalanced braces in route '${template}': '${raw}'`);
  let body = raw.slice(1, -1);
  let catchAll = false;
  if (body.startsWith('**')) {
    catchAll = true;
    body = body.slice(2);
  } else if (body.startsWith('*')) {
    catchAll = true;
    body = body.slice(1);
  }
  let defaultValue: string | undefined;
  const [namePart, ...constraintSpecs] = splitConstraints(body);
  let name = namePart;
  let optional = false;
  const last = constraintSpecs.length ? constraintSpecs[constraintSpecs.length - 1] : undefined;
  const tail = last ?? name;
  const fixTail = (value: string) => {
    if (last !== undefined) constraintSpecs[constraintSpecs.length - 1] = value;
    else name = value;
  };
  if (tail.endsWith('?')) {
    optional = true;
    fixTail(tail.slice(0, -1));
  }
  const eq = (last ?? name).indexOf('=');
  if (eq >= 0 && !(last ?? name).startsWith('regex(')) {
    const t = last ?? name;
    defaultValue = t.slice(eq + 1);
    fixTail(t.slice(0, eq));
  }
  if (!/^\w+$/.test(name)) throw new RouteTemplateError(`Invalid parameter name '${name}' in route '${template}'`);
  return {
    kind: 'param',
    name,
    optional: optional || catchAll || defaultValue !== undefined,
    catchAll,
    defaultValue,
    constraints: constraintSpecs.map((c) => parseConstraint(c, template)),
  };
}

export function compileRoute<T>(template: string, target: T): CompiledRoute<T> {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/').map((s) => parseSegment(s, template));
  const names = new Set<string>();
  segments.forEach((segment, i) => {
    if (segment.kind !== 'param') return;
    const key = segment.name.toLowerCase();
    if (names.has(key)) throw new RouteTemplateError(`Parameter '${segment.name}' appears twice in route '${template}'`);
    names.add(key);
    if (segment.catchAll && i !== segments.length - 1)
      throw new RouteTemplateError(`A catch-all parameter must be the last segment of route '${template}'`);
    if (segment.optional && !segment.catchAll && segments.slice(i + 1).some((s) => s.kind === 'literal' || !s.optional)) {
      throw new RouteTemplateError(`An optional parameter must be at the end of route '${template}'`);
    }
  });
  const rank = segments.map((s) => (s.kind === 'literal' ? 1 : s.catchAll ? 5 : s.optional ? 4 : s.constraints.length ? 2 : 3));
  return { template, segments, target, rank };
}

/** Matches a decoded path (without prefix, no query) against one route; returns params or undefined. */
export function matchRoute(route: CompiledRoute<unknown>, path: string): Record<string, string> | undefined {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of route.segments) {
    if (segment.kind === 'literal') {
      if (i >= parts.length || safeDecode(parts[i]).toLowerCase() !== segment.text) return undefined;
      i++;
      continue;
    }
    if (segment.catchAll) {
      const rest = parts.slice(i).map(safeDecode).join('/');
      i = parts.length;
      if (rest === '') {
        if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
        continue;
      }
      if (!segment.constraints.every((c) => c(rest))) return undefined;
      params[segment.name] = rest;
      continue;
    }
    if (i >= parts.length) {
      if (!segment.optional) return undefined;
      if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      continue;
    }
    const value = safeDecode(parts[i]);
    if (value === '' || !segment.constraints.every((c) => c(value))) return undefined;
    params[segment.name] = value;
    i++;
  }
  return i === parts.length ? params : undefined;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** Orders routes so the most specific template is tried first (stable for equal ranks). */
export function sortRoutes<T>(routes: CompiledRoute<T>[]): CompiledRoute<T>[] {
  return [...routes].sort((a, b) => {
    for (let i = 0; i < Math.max(a.rank.length, b.rank.length); i++) {
      const ra = a.rank[i] ?? 0;
      const rb = b.rank[i] ?? 0;
      if (ra !== rb) return ra - rb;
    }
    return 0;
  });
}
