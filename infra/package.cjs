#!/usr/bin/env node
// Builds the deployment package: what infra/deploy.sh zips and Azure runs, and nothing else.
//
//   node infra/package.cjs <out-dir> [--durable-backend AzureStorage|DurableTaskScheduler]
//
// Every function entry point (functions/*.ts) is bundled with esbuild into CommonJS that the Functions Node worker loads
// as the package's `main`, dist/main.js: the worker reads one file instead of thousands under node_modules, and every
// library is evaluated once per process. (One bundle per entry file would carry eleven copies of the Azure SDKs and of
// @azure/functions, whose programming model is process-global.)
//
// Cold start (bench/README.md) is the worker loading main.js and the app registering its functions. For that the app
// needs only the REGISTRATION packages; the Azure SDKs it calls from triggers and activities (most of the code) are
// needed at the first call. So the libraries the app's own code imports are split in two files:
//
//  - dist/main.js: the app's code and the REGISTRATION packages, and for every other package the app imports a small
//    stand-in module with the package's export names, each a getter that loads dist/sdk.js on first access;
//  - dist/sdk.js: those packages (the Azure SDKs, Microsoft Graph, undici, the OpenTelemetry SDK) with everything they
//    depend on, each evaluated when first loaded.
//
// Node parses a file before running any of it, so the SDKs' megabytes are parsed and evaluated at the first call that
// needs them, not at start-up. Every package is bundled once: a package in both files fails the build. In sdk.js every
// package is resolved with the same conditions (its ES module build where it has one), so a package that some
// libraries import and others require is not bundled twice.
// `@azure/functions-core` stays external: the worker provides it. The package holds exactly PACKAGE_FILES, so no
// local/, test, benchmark or dev dependency can be shipped; the out directory is emptied first, so no stale file is.
//
// host.json is the repository's own (the Azure Storage backend, what the local host speaks) unless the deployment
// chose the Durable Task Scheduler (main.json durableBackend, which deploy.sh passes as --durable-backend): then the
// packaged copy names the azureManaged storage provider, the task hub from TASKHUB_NAME and an extension bundle that
// carries that provider, as https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler
// describes. Everything else in it is unchanged.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const { isBuiltin } = require('node:module');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..');

/** Every file of the package, relative to its root. */
const PACKAGE_FILES = ['dist/main.js', 'dist/sdk.js', 'host.json', 'package.json'];

/** The file main.js's stand-ins load (next to main.js). */
const SDK_FILE = './sdk.js';

/**
 * Packages the app needs to register its functions, bundled into main.js: the programming model, Durable Functions,
 * configuration validation (zod), schedules (croner) and the OpenTelemetry logs API the app's log records go to.
 */
const REGISTRATION = ['@azure/functions', 'durable-functions', 'zod', 'croner', '@opentelemetry/api', '@opentelemetry/api-logs'];

/**
 * Dependencies of REGISTRATION packages that are needed only when a function runs, deferred like the app's own imports:
 * Durable Functions' HTTP client to the host (axios) and its URL checks (validator) serve the durable client bindings.
 */
const DEFERRED_DEPENDENCIES = { 'durable-functions': ['axios', 'validator'] };

/** main.json's durableBackend values; the first is the default. */
const DURABLE_BACKENDS = ['AzureStorage', 'DurableTaskScheduler'];

/** The app settings main.json sets with the Durable Task Scheduler, which the packaged host.json names. */
const SCHEDULER_CONNECTION_SETTING = 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING';
const SCHEDULER_TASK_HUB_SETTING = 'TASKHUB_NAME';

/**
 * The lowest extension bundle (Microsoft.Azure.Functions.ExtensionBundle) whose Durable extension knows the azureManaged
 * provider: "update the extensionBundle property to use version 4.32.0 or later, which includes Durable Task Scheduler
 * support" (https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler); the Preview
 * bundle is no longer needed. A range that could resolve to an older 4.x bundle is raised to it, so an app can never
 * start on a bundle that does not know the provider.
 */
const SCHEDULER_MIN_BUNDLE = [4, 32, 0];

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

/**
 * The host.json text to package for a Durable backend: the repository's own, byte for byte, for AzureStorage; for
 * DurableTaskScheduler the same settings with the azureManaged storage provider, hubName %TASKHUB_NAME% and a bundle
 * range starting at SCHEDULER_MIN_BUNDLE. Throws on an unknown backend.
 */
function hostJsonFor(hostJsonText, durableBackend = DURABLE_BACKENDS[0]) {
  if (!DURABLE_BACKENDS.includes(durableBackend))
    throw new Error(`unknown Durable backend ${JSON.stringify(durableBackend)} (expected ${DURABLE_BACKENDS.join(' or ')})`);
  if (durableBackend === 'AzureStorage') return hostJsonText;
  const host = JSON.parse(hostJsonText.replace(/^\uFEFF/, ''));
  host.extensions = host.extensions ?? {};
  const durableTask = { ...(host.extensions.durableTask ?? {}) };
  durableTask.hubName = `%${SCHEDULER_TASK_HUB_SETTING}%`;
  // Azure Storage's own settings (partitionCount, …) do not apply to the scheduler: the provider object is replaced.
  durableTask.storageProvider = { type: 'azureManaged', connectionStringName: SCHEDULER_CONNECTION_SETTING };
  host.extensions.durableTask = durableTask;
  if (host.extensionBundle) host.extensionBundle = { ...host.extensionBundle, version: schedulerBundleRange(host.extensionBundle) };
  return `${JSON.stringify(host, null, 2)}\n`;
}

/** The bundle range with its lower bound raised to SCHEDULER_MIN_BUNDLE when it could resolve below it. */
function schedulerBundleRange(bundle) {
  const range = String(bundle.version ?? '');
  const m = /^\[\s*(\d+)(?:\.(\d+|\*))?(?:\.(\d+|\*))?\s*,\s*([^\]\)]+)([\]\)])$/.exec(range);
  if (bundle.id !== 'Microsoft.Azure.Functions.ExtensionBundle' || !m)
    throw new Error(
      `host.json extensionBundle ${JSON.stringify(bundle)}: package.cjs can only raise a Microsoft.Azure.Functions.ExtensionBundle ` +
        `range like "[4.*, 5.0.0)" to one that carries the azureManaged provider`,
    );
  const lower = [
    Number(m[1]),
    m[2] === undefined || m[2] === '*' ? 0 : Number(m[2]),
    m[3] === undefined || m[3] === '*' ? 0 : Number(m[3]),
  ];
  const below = lower[0] !== SCHEDULER_MIN_BUNDLE[0] ? lower[0] < SCHEDULER_MIN_BUNDLE[0] : lower[1] < SCHEDULER_MIN_BUNDLE[1];
  if (lower[0] < SCHEDULER_MIN_BUNDLE[0] && Number(m[4].split('.')[0]) <= SCHEDULER_MIN_BUNDLE[0])
    throw new Error(
      `host.json extensionBundle ${range} cannot reach ${SCHEDULER_MIN_BUNDLE.join('.')}, which the azureManaged provider needs`,
    );
  return below ? `[${SCHEDULER_MIN_BUNDLE.join('.')}, ${m[4].trim()}${m[5]}` : range;
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

/** The package name of a bare module specifier ('@scope/name/sub' -> '@scope/name'). */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The package directory of a bundled file ('node_modules/a/node_modules/@b/c'), or undefined for the app's own files. */
function packageDirOf(file) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
  return match ? match[1] : undefined;
}

const isBare = (specifier) => !specifier.startsWith('.') && !path.isAbsolute(specifier) && !isBuiltin(specifier);

/** Options both bundles share. */
function commonOptions(repoRoot) {
  return {
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
    logLevel: 'silent',
    metafile: true,
    absWorkingDir: repoRoot,
  };
}

/** A path as esbuild's metafile names it: relative to the repository, with forward slashes. */
const metaPath = (repoRoot, file) => path.relative(repoRoot, file).split(path.sep).join('/');

/** Throws when esbuild reported an error or a warning (a dynamic require it cannot follow would fail only in Azure). */
async function checkResult(esbuild, result, what) {
  if (result.errors.length > 0 || result.warnings.length > 0) {
    const messages = await esbuild.formatMessages([...result.errors, ...result.warnings], { kind: 'warning' });
    throw new Error(`esbuild reported problems bundling ${what}:\n${messages.join('\n')}`);
  }
}

/** Whether main.js loads `specifier`, imported by `importer`, on first use (from sdk.js) rather than at start-up. */
function isDeferred(repoRoot, specifier, importer) {
  if (!isBare(specifier) || EXTERNAL.includes(specifier)) return false;
  const importerPackage = packageDirOf(metaPath(repoRoot, importer));
  if (importerPackage === undefined) return !REGISTRATION.includes(packageName(specifier));
  const importerName = importerPackage.replace(/^.*node_modules\//, '');
  return (DEFERRED_DEPENDENCIES[importerName] ?? []).includes(packageName(specifier));
}

/**
 * The app's bundle. `deferred(file)` gives the stand-in module of a deferred package (isDeferred) by the file it
 * resolves to (relative to repoRoot); without it, deferred imports are only collected (external).
 */
async function buildMain(esbuild, repoRoot, outfile, deferred, shared = []) {
  const deferredFiles = new Set();
  // Loads sdk.js once and gives it the modules it shares with main.js (shared: files of both, relative to repoRoot).
  const sdkLoader = [
    `const provided = {`,
    ...shared.map((file) => `  ${JSON.stringify(file)}: () => require(${JSON.stringify(path.join(repoRoot, file))}),`),
    `};`,
    `const sdk = require(${JSON.stringify(SDK_FILE)});`,
    `sdk.provide((file) => provided[file]());`,
    `module.exports = sdk;`,
  ].join('\n');
  const plugin = {
    name: 'deferred-packages',
    setup(build) {
      build.onResolve({ filter: /^\.\/sdk\.js$/, namespace: 'sdk-loader' }, () => ({ path: SDK_FILE, external: true }));
      build.onResolve({ filter: /^sdk-loader$/, namespace: 'deferred' }, () => ({ path: 'sdk-loader', namespace: 'sdk-loader' }));
      build.onLoad({ filter: /.*/, namespace: 'sdk-loader' }, () => ({ contents: sdkLoader, loader: 'js', resolveDir: repoRoot }));
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.namespace !== 'file' || args.pluginData?.deferred || !isDeferred(repoRoot, args.path, args.importer)) return undefined;
        // Resolved as sdk.js resolves it (as an import), to the file sdk.js bundles.
        const resolved = await build.resolve(args.path, {
          kind: 'import-statement',
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { deferred: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const file = metaPath(repoRoot, resolved.path);
        deferredFiles.add(file);
        return deferred ? { path: file, namespace: 'deferred' } : { path: args.path, external: true };
      });
      build.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => ({
        contents: deferred(args.path),
        loader: 'js',
        resolveDir: repoRoot,
      }));
    },
  };
  const entries = functionEntryPoints(repoRoot);
  const result = await esbuild.build({
    ...commonOptions(repoRoot),
    stdin: {
      // Registration order is the entry files' order, as when the worker loads dist/functions/*.js.
      contents: entries.map((file) => `require(${JSON.stringify(`./${file}`)});`).join('\n'),
      resolveDir: repoRoot,
      sourcefile: 'main.js',
      loader: 'js',
    },
    plugins: [plugin],
    write: deferred !== undefined,
    outfile,
  });
  await checkResult(esbuild, result, 'the app');
  return { deferredFiles: [...deferredFiles].sort(), metafile: result.metafile };
}

/** The sdk-registry module of sdk.js: the function main.js gives it to reach the modules they share. */
const SDK_REGISTRY = `let provider;
exports.set = (p) => { provider = p; };
exports.get = (file) => {
  if (!provider) throw new Error('sdk.js needs ' + file + ' from main.js, which did not provide it');
  return provider(file);
};`;

/**
 * sdk.js: `load(file)` returns the module of that file (relative to repoRoot), evaluated on first call; `provide(fn)`
 * is how main.js gives it the modules of mainInputs (bundled there already) that the packages import, so no package is
 * bundled twice. Every bare import and require resolves as an import, so each package is bundled in one format. Without
 * mainInputs, sdk.js holds everything (to read export names).
 */
async function buildSdk(esbuild, repoRoot, outfile, files, mainInputs) {
  const shared = new Set();
  const plugin = {
    name: 'one-format-per-package',
    setup(build) {
      build.onResolve({ filter: /^sdk-registry$/ }, () => ({ path: 'sdk-registry', namespace: 'sdk-registry' }));
      build.onLoad({ filter: /.*/, namespace: 'sdk-registry' }, () => ({ contents: SDK_REGISTRY, loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: 'provided' }, (args) => ({
        contents: `module.exports = require('sdk-registry').get(${JSON.stringify(args.path)});`,
        loader: 'js',
        resolveDir: repoRoot,
      }));
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.oneFormat || args.namespace !== 'file' || !isBare(args.path) || EXTERNAL.includes(args.path)) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind === 'require-call' ? 'import-statement' : args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { oneFormat: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const file = resolved.namespace === 'file' && !resolved.external ? metaPath(repoRoot, resolved.path) : undefined;
        if (mainInputs && file && file in mainInputs) {
          shared.add(file);
          return { path: file, namespace: 'provided' };
        }
        return { path: resolved.path, external: resolved.external, namespace: resolved.namespace, sideEffects: resolved.sideEffects };
      });
    },
  };
  const loaders = files.map((f) => `  ${JSON.stringify(f)}: () => require(${JSON.stringify(path.join(repoRoot, f))}),`).join('\n');
  const result = await esbuild.build({
    ...commonOptions(repoRoot),
    stdin: {
      contents: [
        `const loaders = {\n${loaders}\n};`,
        `exports.load = (file) => loaders[file]();`,
        `exports.provide = require('sdk-registry').set;`,
      ].join('\n'),
      resolveDir: repoRoot,
      sourcefile: 'sdk.js',
      loader: 'js',
    },
    plugins: [plugin],
    outfile,
  });
  await checkResult(esbuild, result, 'the SDKs');
  return { metafile: result.metafile, shared: [...shared].sort() };
}

/**
 * The export names of each package as sdk.js gives it, read in a child process (it evaluates every package once), so
 * main.js's stand-ins have the same names and `__esModule` flag as the packages.
 */
function exportShapes(sdkFile, files) {
  const script = `
    const sdk = require(process.argv[1]);
    const shapes = {};
    for (const file of JSON.parse(process.argv[2])) {
      const m = sdk.load(file);
      shapes[file] = {
        type: typeof m,
        esModule: m.__esModule === true,
        names: Object.getOwnPropertyNames(m).filter((name) => name !== '__esModule'),
      };
    }
    process.stdout.write(JSON.stringify(shapes));
    process.exit(0);`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script, sdkFile, JSON.stringify(files)], { encoding: 'utf8' }));
}

/** main.js's stand-in for a deferred module: its export names as getters that load sdk.js on first access. */
function standIn(file, shape) {
  if (shape.type !== 'object') throw new Error(`${file} exports a ${shape.type}, not an object: it cannot be loaded on first use`);
  return [
    `let m;`,
    `const load = () => (m ??= require('sdk-loader').load(${JSON.stringify(file)}));`,
    shape.esModule ? `Object.defineProperty(exports, '__esModule', { value: true });` : '',
    `for (const name of ${JSON.stringify(shape.names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });`,
  ].join('\n');
}

/**
 * Builds the package into outDir (emptied first) and returns its file list, the source files bundled into either file
 * (relative to the repository), those of main.js alone, and the packages main.js loads on first use. Throws when esbuild
 * reports an error or a warning, when a package would be bundled into both files, or when the package holds anything
 * but PACKAGE_FILES.
 */
async function buildPackage(outDir, { repoRoot = REPO_ROOT, durableBackend = DURABLE_BACKENDS[0] } = {}) {
  const hostJson = hostJsonFor(fs.readFileSync(path.join(repoRoot, 'host.json'), 'utf8'), durableBackend);
  const esbuild = require('esbuild');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'dist'), { recursive: true });
  const mainFile = path.join(outDir, 'dist', 'main.js');
  const sdkFile = path.join(outDir, 'dist', 'sdk.js');
  // 1. Which modules main.js defers (and main.js's inputs without them); 2. their export names, from an sdk.js that
  // holds everything; 3. sdk.js, taking from main.js what main.js holds; 4. main.js with the stand-ins.
  const first = await buildMain(esbuild, repoRoot, mainFile);
  const deferredFiles = first.deferredFiles;
  await buildSdk(esbuild, repoRoot, sdkFile, deferredFiles);
  const shapes = exportShapes(sdkFile, deferredFiles);
  const { metafile: sdkMeta, shared } = await buildSdk(esbuild, repoRoot, sdkFile, deferredFiles, first.metafile.inputs);
  const { metafile: mainMeta } = await buildMain(esbuild, repoRoot, mainFile, (s) => standIn(s, shapes[s]), shared);
  const packagesOf = (meta) => new Set(Object.keys(meta.inputs).map(packageDirOf).filter(Boolean));
  const inMain = packagesOf(mainMeta);
  const twice = [...packagesOf(sdkMeta)].filter((dir) => inMain.has(dir));
  if (twice.length > 0) throw new Error(`bundled into both main.js and sdk.js: ${twice.join(', ')}`);
  fs.writeFileSync(path.join(outDir, 'host.json'), hostJson);
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(packageManifest(repoRoot), null, 2)}\n`);
  const files = listFiles(outDir);
  if (JSON.stringify(files) !== JSON.stringify([...PACKAGE_FILES].sort())) {
    throw new Error(`the package must hold exactly ${PACKAGE_FILES.join(', ')}; it holds ${files.join(', ')}`);
  }
  // Source files only: not the stdin entries (main.js, sdk.js) nor the generated modules (stand-ins, loader, registry).
  const ownFile = (f) => !/^(deferred|provided|sdk-loader|sdk-registry):/.test(f) && f !== 'main.js' && f !== 'sdk.js';
  const mainInputs = Object.keys(mainMeta.inputs).filter(ownFile);
  return {
    files,
    inputs: [...new Set([...mainInputs, ...Object.keys(sdkMeta.inputs).filter(ownFile)])].sort(),
    mainInputs: mainInputs.sort(),
    deferred: deferredFiles,
  };
}

module.exports = {
  PACKAGE_FILES,
  EXTERNAL,
  REGISTRATION,
  DEFERRED_DEPENDENCIES,
  DURABLE_BACKENDS,
  SCHEDULER_MIN_BUNDLE,
  buildPackage,
  hostJsonFor,
  functionEntryPoints,
  packageManifest,
  listFiles,
};

if (require.main === module) {
  const usage = (message) => {
    process.stderr.write(
      `${message ? `infra/package.cjs: ${message}\n` : ''}usage: node infra/package.cjs <out-dir> [--durable-backend ${DURABLE_BACKENDS.join('|')}]\n`,
    );
    process.exit(2);
  };
  const args = process.argv.slice(2);
  let outDir;
  let durableBackend = DURABLE_BACKENDS[0];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--durable-backend') {
      durableBackend = args[++i];
      if (!DURABLE_BACKENDS.includes(durableBackend))
        usage(`--durable-backend must be ${DURABLE_BACKENDS.join(' or ')}, got ${JSON.stringify(durableBackend ?? '')}`);
    } else if (outDir === undefined && !args[i].startsWith('--')) outDir = args[i];
    else usage(`unexpected argument ${JSON.stringify(args[i])}`);
  }
  if (!outDir) usage();
  buildPackage(path.resolve(outDir), { durableBackend }).then(
    ({ files }) => process.stdout.write(`package ${path.resolve(outDir)} (Durable backend ${durableBackend}): ${files.join(', ')}\n`),
    (error) => {
      process.stderr.write(`infra/package.cjs: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
