import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS } from '../../core/config';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The README's configuration table is generated from CONFIG_SETTINGS, so the docs cannot drift from the code. */
function configTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = CONFIG_SETTINGS.map(
    (s) =>
      `| \`${s.name}\` | ${s.required ? 'yes' : 'no'} | ${s.default ? '`' + s.default + '`' : '—'} | ` +
      `${cell(s.values)} | ${cell(s.description)} |`,
  );
  return ['| Setting | Required | Default | Values | What it does |', '|---|---|---|---|---|', ...rows].join('\n');
}

describe('README', () => {
  it('configuration table matches core/config CONFIG_SETTINGS exactly', () => {
    const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(match, 'README is missing the config-table markers').not.toBeNull();
    expect(match![1], 'regenerate the table between the markers from CONFIG_SETTINGS').toBe(configTable());
  });

  it.each([['npm install'], ['npm start'], ['npm test']])('quick start names `%s`', (command) => {
    expect(readme).toContain(command);
  });

  it('every npm script the README tells users to run exists', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const named = [...readme.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]);
    for (const name of named) expect(Object.keys(scripts), `README mentions npm run ${name}`).toContain(name);
  });

  it('every relative link in the README points at a file that exists', () => {
    const links = [...readme.matchAll(/\]\((?!https?:|#)([^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(() => readFileSync(join(root, link)), link).not.toThrow();
  });
});
