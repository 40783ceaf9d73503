#!/usr/bin/env node
// Builds the deployment package: what infra/deploy.sh zips and Azure runs, and nothing else.
//
//   node infra/package.cjs <out-dir>
//
// Every function entry point (functions/*.ts) is bundled with esbuild into ONE CommonJS file, dist/main.js, that
// the Functions Node worker loads as the package's `main`: the worker loads a single file instead of thousands
// under node_modules, and every library is evaluated once per process. (One bundle per entry file would carry
// eleven copies of the Azure SDKs and of @azure/functions, whose programming model is process-global.)
// `@azure/functions-core` stays external: the worker provides it. The package holds exactly PACKAGE_FILES, so no
// local/, test, benchmark or dev dependency can be shipped; the out directory is emptied first, so no stale file is.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..');

/** Every file of the package, relative to its root. */
const PACKAGE_FILES = ['dist/main.js', 'host.json', 'package.json'];

/** Modules the Functions host provides at run time. */
const EXTERNAL = ['@azure/functions-core'];

function functionEntryPoints(repoRoot = REPO_ROOT) {
  return fs
    .readdirSync(path.join(repoRoot, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => `functions/${file}`);
}

/** The package's package.json: the repository's identity and engines, the bundle as main, no dependencies. */
function packageManifest(repoRoot = REPO_ROOT) {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  return {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    private: true,
    license: pkg.license,
    engines: pkg.engines,
    main: 'dist/main.js',
  };
}

/** Lists every file under dir, relative to it, sorted. */
function listFiles(dir) {
  const out = [];
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/**
 * Builds the package into outDir (emptied first) and returns its file list and the source files bundled (relative to
 * the repository). Throws when esbuild reports an error or a
 * warning (a dynamic require it cannot follow would fail only in Azure), or when the package holds anything but
 * PACKAGE_FILES.
 */
async function buildPackage(outDir, { repoRoot = REPO_ROOT } = {}) {
  const esbuild = require('esbuild');
  const entries = functionEntryPoints(repoRoot);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'dist'), { recursive: true });
  const result = await esbuild.build({
    stdin: {
      // Registration order is the entry files' order, as when the worker loads dist/functions/*.js.
      contents: entries.map((file) => `require(${JSON.stringify(`./${file}`)});`).join('\n'),
      resolveDir: repoRoot,
      sourcefile: 'main.js',
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Prefer the libraries' ES module builds: esbuild drops what the app never imports from them.
    mainFields: ['module', 'main'],
    external: EXTERNAL,
    // Whitespace and syntax only: identifiers keep their names, so stack traces in Application Insights stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    tsconfig: path.join(repoRoot, 'tsconfig.json'),
    outfile: path.join(outDir, 'dist', 'main.js'),
    logLevel: 'silent',
    metafile: true,
  });
  if (result.errors.length > 0 || result.warnings.length > 0) {
    const messages = await esbuild.formatMessages([...result.errors, ...result.warnings], { kind: 'warning' });
    throw new Error(`esbuild reported problems bundling the app:\n${messages.join('\n')}`);
  }
  fs.copyFileSync(path.join(repoRoot, 'host.json'), path.join(outDir, 'host.json'));
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(packageManifest(repoRoot), null, 2)}\n`);
  const files = listFiles(outDir);
  if (JSON.stringify(files) !== JSON.stringify([...PACKAGE_FILES].sort())) {
    throw new Error(`the package must hold exactly ${PACKAGE_FILES.join(', ')}; it holds ${files.join(', ')}`);
  }
  return { files, inputs: Object.keys(result.metafile.inputs).sort() };
}

module.exports = { PACKAGE_FILES, EXTERNAL, buildPackage, functionEntryPoints, packageManifest, listFiles };

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('usage: node infra/package.cjs <out-dir>\n');
    process.exit(2);
  }
  buildPackage(path.resolve(outDir)).then(
    ({ files }) => process.stdout.write(`package ${path.resolve(outDir)}: ${files.join(', ')}\n`),
    (error) => {
      process.stderr.write(`infra/package.cjs: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
