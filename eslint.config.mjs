// Flat config: type-aware rules so floating promises are caught, and focused/skipped tests are rejected.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs', '.state/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-properties': [
        'error',
        ...['describe', 'it', 'test', 'bench', 'suite'].flatMap((object) => [
          { object, property: 'only', message: 'Focused tests must not be committed.' },
          { object, property: 'skip', message: 'Skipped tests must not be committed.' },
          { object, property: 'todo', message: 'Placeholder tests must not be committed.' },
        ]),
      ],
    },
  },
  {
    // Prettier wraps code at 140 but not long strings or comments: this catches those.
    files: ['**/*.ts', '**/*.mts'],
    rules: {
      'max-len': ['error', { code: 140, comments: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    // core/ is pure domain logic: no Azure SDKs, no I/O libraries.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@azure/*', '!@azure/eventgrid'], message: 'core/ must not import Azure SDKs (types from @azure/eventgrid only).' },
            {
              group: [
                '@microsoft/*',
                'undici',
                'better-sqlite3',
                'node:fs',
                'fs',
                'node:http',
                'node:https',
                'http',
                'https',
                'node:net',
                'net',
              ],
              message: 'core/ is pure: no I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // The simulator is Azure's stand-in: it must not share the app's code (or its bugs).
    files: ['local/azure-sim/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/**', '**/azure/**', '**/functions/**', '**/orchestrations/**', '../../core*', '../../azure*'],
              message: 'The simulator must not import the app.',
            },
          ],
        },
      ],
    },
  },
  {
    // The host runs any app; it never imports ours.
    files: ['local/host/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/**', '**/azure/**', '**/functions/**', '**/orchestrations/**'],
              message: 'The host must not import the app.',
            },
          ],
        },
      ],
    },
  },
);
