#!/usr/bin/env node
// Build step (the server package's build, and its postinstall in a clone of modelport, where this
// script exists; it is not shipped): writes mock-server/vendor/, which @modelport/server ships instead of
// depending on @tensorflow/tfjs-node, whose install script downloads libtensorflow from Google
// storage (DESIGN.md §6) and whose `@tensorflow/tfjs` dependency drags in webgl, core-js and yargs.
//
//   vendor/tfjs.cjs              runtime/tfjs.ts bundled: tfjs-core's gradients and chained ops
//                                (ES modules Node cannot load) inlined, every @tensorflow/* package
//                                external, so the app has one tfjs-core
//   vendor/tfjs-node.cjs         tfjs-node 4.22.0's JavaScript (dist/index.js and what it requires)
//                                with its binding taken from the runtime loader instead of
//                                node-pre-gyp, `@tensorflow/tfjs` mapped to ./tfjs.cjs, and the
//                                Node >= 23 fix below
//   vendor/tfjs-node-binding/    tfjs-node's C++ sources, compiled in the user's install by prepare.mjs
//   vendor/manifest.json         versions, for the native cache key
//   vendor/THIRD_PARTY_NOTICES.md the licenses of the code bundled above
//
// Needs the repository's devDependencies (@tensorflow/tfjs-node, esbuild).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const serverRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(serverRoot, 'package.json'));

/** Global through which the runtime loader hands tfjs-node the binding it loaded (see prepare.mjs). */
const BINDING_SYMBOL = 'modelport.tfjs-node.binding';

/**
 * Node 23 removed util.isNullOrUndefined and util.isArray, which tfjs-node 4.22.0 (its latest
 * release) still calls in its kernels: every op then throws on Node 23+. The upstream fix
 * (tensorflow/tfjs#8425) is merged but unreleased (tensorflow/tfjs#8609); this is the same change.
 */
const REMOVED_NODE_UTIL = [
  ['(0, util_1.isNullOrUndefined)(', '((value) => value == null)('],
  ['(0, util_1.isArray)(', 'Array.isArray('],
];

/**
 * Writes vendor/; with `onlyIfStale`, only when what it was made from (this script, runtime/tfjs.ts,
 * the installed tfjs-node, tfjs-core and esbuild) changed since.
 */
export async function vendorTfjsNode({ onlyIfStale = false } = {}) {
  const tfjsNodeDir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  const tfjsNodePkg = readJson(path.join(tfjsNodeDir, 'package.json'));
  const coreVersion = readJson(require.resolve('@tensorflow/tfjs-core/package.json')).version;
  const vendor = path.join(serverRoot, 'vendor');
  const source = createHash('sha256')
    .update(fs.readFileSync(fileURLToPath(import.meta.url)))
    .update(fs.readFileSync(path.join(serverRoot, 'runtime', 'tfjs.ts')))
    .update(`${tfjsNodePkg.version} ${coreVersion} ${esbuild.version}`)
    .digest('hex');
  if (onlyIfStale) {
    try {
      if (readJson(path.join(vendor, 'manifest.json')).source === source) return { vendor, tfjsNode: tfjsNodePkg.version, vendored: false };
    } catch {
      // None yet.
    }
  }
  const staging = `${vendor}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.join(staging, 'tfjs-node-binding'), { recursive: true });
  try {
    const common = {
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      metafile: true,
      logLevel: 'warning',
      legalComments: 'none',
    };
    const union = await esbuild.build({
      ...common,
      entryPoints: [path.join(serverRoot, 'runtime', 'tfjs.ts')],
      outfile: path.join(staging, 'tfjs.cjs'),
      plugins: [tensorflowPackagesExternal()],
    });
    const node = await esbuild.build({
      ...common,
      entryPoints: [path.join(tfjsNodeDir, 'dist', 'index.js')],
      outfile: path.join(staging, 'tfjs-node.cjs'),
      plugins: [tfjsNodeForModelport(tfjsNodeDir, tfjsNodePkg), tensorflowPackagesExternal()],
    });
    for (const file of fs.readdirSync(path.join(tfjsNodeDir, 'binding'))) {
      if (/\.(cc|h)$/.test(file)) fs.copyFileSync(path.join(tfjsNodeDir, 'binding', file), path.join(staging, 'tfjs-node-binding', file));
    }
    fs.writeFileSync(
      path.join(staging, 'manifest.json'),
      `${JSON.stringify(
        {
          'tfjs-node': tfjsNodePkg.version,
          'tfjs-core': coreVersion,
          bindingSymbol: BINDING_SYMBOL,
          source,
        },
        null,
        2,
      )}\n`,
    );
    fs.writeFileSync(path.join(staging, 'THIRD_PARTY_NOTICES.md'), notices([union.metafile, node.metafile], tfjsNodePkg));
    replaceFolder(staging, vendor);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return { vendor, tfjsNode: tfjsNodePkg.version, vendored: true };
}

/**
 * npm runs a workspace's postinstall twice (for the package and its link), possibly at once: the
 * old folder is moved aside and the new one renamed in; when another run's got there first, ours
 * is dropped.
 */
function replaceFolder(staging, target) {
  const old = `${target}.old-${process.pid}`;
  try {
    fs.renameSync(target, old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  try {
    fs.renameSync(staging, target);
  } catch (error) {
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    fs.rmSync(staging, { recursive: true, force: true });
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** `@tensorflow/<name>` stays a require of the installed package; its deep paths are bundled. */
function tensorflowPackagesExternal() {
  return {
    name: 'tensorflow-packages-external',
    setup(build) {
      build.onResolve({ filter: /^@tensorflow\/[^/]+$/ }, (args) => ({ path: args.path, external: true }));
    },
  };
}

function tfjsNodeForModelport(tfjsNodeDir, tfjsNodePkg) {
  const dist = path.join(tfjsNodeDir, 'dist') + path.sep;
  const index = path.join(dist, 'index.js');
  return {
    name: 'tfjs-node-for-modelport',
    setup(build) {
      // Not the union package: our own, beside the bundle, so tfjs-node and the server share one.
      build.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: './tfjs.cjs', external: true }));
      build.onResolve({ filter: /^@mapbox\/node-pre-gyp$/ }, (args) => ({
        errors: [
          {
            text: `node-pre-gyp is still required by ${args.importer}: tfjs-node's binding lookup changed, update ${path.basename(fileURLToPath(import.meta.url))}`,
          },
        ],
      }));
      build.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(dist)) return undefined;
        let source = fs.readFileSync(args.path, 'utf8');
        for (const [from, to] of REMOVED_NODE_UTIL) source = source.split(from).join(to);
        if (/util_1\.(isNullOrUndefined|isArray)\b/.test(source)) {
          throw new Error(`${args.path} still calls a util function Node 23 removed, in a form this script does not patch`);
        }
        if (args.path === index) source = replaceBindingLookup(source, tfjsNodePkg);
        return { contents: source, loader: 'js' };
      });
    },
  };
}

/** dist/index.js finds and requires the binding through node-pre-gyp and package.json's `binary` paths. */
function replaceBindingLookup(source, tfjsNodePkg) {
  const lookup = /var binary = require\('@mapbox\/node-pre-gyp'\);[\s\S]*?var bindings = require\(bindingPath\);/;
  const pjson = "var pjson = require('../package.json');";
  if (!lookup.test(source) || !source.includes(pjson)) {
    throw new Error(`tfjs-node ${tfjsNodePkg.version}'s dist/index.js no longer has the binding lookup this script replaces`);
  }
  const fromLoader = `var bindings = globalThis[Symbol.for(${JSON.stringify(BINDING_SYMBOL)})];
if (!bindings) {
    throw new Error("vendor/tfjs-node.cjs needs the native binding: load it through @modelport/server's runtime (runtime/native/prepare.mjs), not directly");
}`;
  return source
    .replace(lookup, () => fromLoader)
    .replace(pjson, () => `var pjson = ${JSON.stringify({ name: tfjsNodePkg.name, version: tfjsNodePkg.version })};`);
}

/** The licenses of every package whose code ended up in the bundles or the binding sources. */
function notices(metafiles, tfjsNodePkg) {
  const packages = new Map();
  for (const metafile of metafiles) {
    for (const input of Object.keys(metafile.inputs)) {
      const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match) packages.set(match[1], path.resolve(input.slice(0, match.index + match[0].length - 1)));
    }
  }
  packages.set(tfjsNodePkg.name, path.dirname(require.resolve(`${tfjsNodePkg.name}/package.json`)));
  const sections = [...packages]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, dir]) => {
      const pkg = readJson(path.join(dir, 'package.json'));
      const licenseFiles = fs.readdirSync(dir).filter((f) => /^(licen[cs]e|copying)/i.test(f));
      const texts = licenseFiles.map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim());
      const body = texts.length
        ? texts.join('\n\n')
        : `The package ships no license file; its package.json declares ${pkg.license}, and its source files carry the notice "Copyright Google LLC. Licensed under the Apache License, Version 2.0". The license's text is at the end of this file.`;
      return `## ${name} ${pkg.version} (${pkg.license})\n\n${body}\n`;
    });
  // The repository's own LICENSE is the Apache License 2.0; its terms are the same text.
  const apache = fs
    .readFileSync(path.join(serverRoot, '..', 'LICENSE'), 'utf8')
    .split('END OF TERMS AND CONDITIONS')[0]
    .trim();
  return `# Third-party code in vendor/\n\nWritten by runtime/native/vendor-tfjs-node.mjs from the packages below, whose code is bundled into\ntfjs.cjs and tfjs-node.cjs or copied into tfjs-node-binding/ (changes: see that script).\n\n${sections.join('\n')}\n## Apache License 2.0\n\n${apache}\n\nEND OF TERMS AND CONDITIONS\n`;
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const { vendor, tfjsNode } = await vendorTfjsNode();
  console.log(
    `[modelport] vendored tfjs-node ${tfjsNode} (JavaScript bundle and binding sources) into ${path.relative(process.cwd(), vendor) || vendor} in ${Date.now() - started} ms`,
  );
}
