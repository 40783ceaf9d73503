#!/usr/bin/env node
// Builds the deployment package: what infra/deploy.sh zips and Azure runs, and nothing else.
//
//   node infra/package.cjs <out-dir> [--durable-backend AzureStorage|DurableTaskScheduler]
//
// Every function entry point (functions/*.ts) is bundled with esbuild into ONE CommonJS file, dist/main.js, that
// the Functions Node worker loads as the package's `main`: the worker loads a single file instead of thousands
// under node_modules, and every library is evaluated once per process. (One bundle per entry file would carry
// eleven copies of the Azure SDKs and of @azure/functions, whose programming model is process-global.)
// `@azure/functions-core` stays external: the worker provides it. The package holds exactly PACKAGE_FILES, so no
// local/, test, benchmark or dev dependency can be shipped; the out directory is emptied first, so no stale file is.
//
// host.json is the repository's own (the Azure Storage backend, what the local host speaks) unless the deployment
// chose the Durable Task Scheduler (main.json durableBackend, which deploy.sh passes as --durable-backend): then the
// packaged copy names the azureManaged storage provider, the task hub from TASKHUB_NAME and an extension bundle that
// carries that provider, as https://learn.microsoft.com/azure/durable-task/scheduler/quickstart-durable-task-scheduler
// describes. Everything else in it is unchanged.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..');

/** Every file of the package, relative to its root. */
const PACKAGE_FILES = ['dist/main.js', 'host.json', 'package.json'];

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

/**
 * Builds the package into outDir (emptied first) and returns its file list and the source files bundled (relative to
 * the repository). Throws when esbuild reports an error or a
 * warning (a dynamic require it cannot follow would fail only in Azure), or when the package holds anything but
 * PACKAGE_FILES.
 */
async function buildPackage(outDir, { repoRoot = REPO_ROOT, durableBackend = DURABLE_BACKENDS[0] } = {}) {
  const hostJson = hostJsonFor(fs.readFileSync(path.join(repoRoot, 'host.json'), 'utf8'), durableBackend);
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
  fs.writeFileSync(path.join(outDir, 'host.json'), hostJson);
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(packageManifest(repoRoot), null, 2)}\n`);
  const files = listFiles(outDir);
  if (JSON.stringify(files) !== JSON.stringify([...PACKAGE_FILES].sort())) {
    throw new Error(`the package must hold exactly ${PACKAGE_FILES.join(', ')}; it holds ${files.join(', ')}`);
  }
  return { files, inputs: Object.keys(result.metafile.inputs).sort() };
}

module.exports = {
  PACKAGE_FILES,
  EXTERNAL,
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
