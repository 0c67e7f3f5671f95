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
//   vendor/manifest.json         versions and the binding patch's revision, for the native cache key
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
 * tfjs-node's binding carries float32, int32, int64 (in), bool, uint8 (in) and strings only. Served
 * SavedModels need every numeric dtype both ways (runtime/saved-model-runner.ts), so its C++ learns
 * the typed array of each: Int8Array ↔ TF_INT8, Int16Array ↔ TF_INT16, Uint16Array ↔ TF_UINT16 and
 * TF_HALF (raw bits), Uint32Array ↔ TF_UINT32, Float64Array ↔ TF_DOUBLE, BigUint64Array ↔ TF_UINT64,
 * and TF_UINT8 out as Uint8Array (int64 goes in as pairs of int32 words, as tfjs-node sends it, and
 * comes out as BigInt64Array already). Bump BINDING_PATCH when the patch changes: the native cache
 * key includes it (prepare.mjs), so every cache rebuilds the binding.
 */
export const BINDING_PATCH = 'modelport-dtypes-1';
const TYPED_ARRAY_IN = (array, width, dtypes) => `    case napi_${array}_array:
      if (${dtypes.map((d) => `dtype != ${d}`).join(' && ')}) {
        NAPI_THROW_ERROR(env, "Tensor type does not match the ${array} typed array");
        return nullptr;
      }
      width = ${width};
      break;
`;
const BINDING_SOURCE_PATCHES = [
  {
    file: 'tfjs_backend.cc',
    why: 'every numeric dtype in (CreateTFE_TensorHandleFromTypedArray)',
    anchor: `      width = sizeof(uint8_t);
      break;
`,
    insert: [
      TYPED_ARRAY_IN('int8', 1, ['TF_INT8']),
      TYPED_ARRAY_IN('int16', 2, ['TF_INT16']),
      TYPED_ARRAY_IN('uint16', 2, ['TF_UINT16', 'TF_HALF']),
      TYPED_ARRAY_IN('uint32', 4, ['TF_UINT32']),
      TYPED_ARRAY_IN('float64', 8, ['TF_DOUBLE']),
      TYPED_ARRAY_IN('biguint64', 8, ['TF_UINT64']),
    ].join(''),
  },
  {
    file: 'tfjs_backend.cc',
    why: 'every numeric dtype out (CopyTFE_TensorHandleDataToJSData)',
    anchor: `    case TF_INT64:
      typed_array_type = napi_bigint64_array;
      break;
`,
    insert: `    case TF_DOUBLE:
      typed_array_type = napi_float64_array;
      break;
    case TF_INT8:
      typed_array_type = napi_int8_array;
      break;
    case TF_UINT8:
      typed_array_type = napi_uint8_array;
      break;
    case TF_INT16:
      typed_array_type = napi_int16_array;
      break;
    case TF_UINT16:
    case TF_HALF:
      typed_array_type = napi_uint16_array;
      break;
    case TF_UINT32:
      typed_array_type = napi_uint32_array;
      break;
    case TF_UINT64:
      typed_array_type = napi_biguint64_array;
      break;
`,
  },
];

/** The binding's source with BINDING_SOURCE_PATCHES applied; throws if an anchor moved. */
function patchBindingSource(file, source) {
  for (const patch of BINDING_SOURCE_PATCHES.filter((p) => p.file === file)) {
    if (source.split(patch.anchor).length !== 2) {
      throw new Error(`tfjs-node's binding/${file} no longer has the anchor for the patch "${patch.why}": update vendor-tfjs-node.mjs`);
    }
    source = source.replace(patch.anchor, () => `${patch.anchor}    // modelport (${BINDING_PATCH}): ${patch.why}\n${patch.insert}`);
  }
  return source;
}

/**
 * tfjs-node reads a SavedModel's signature through mapTFDtypeToJSDtype, which throws on every dtype
 * tfjs has no tensor for (DT_DOUBLE, DT_INT8, ...): loading or inspecting such a model failed. The
 * server reads `tfDtype` itself and runs SavedModels on the binding; `dtype` only has to not throw.
 */
const SAVED_MODEL_DTYPES = [
  [
    "        case 'DT_UINT8':\n            return 'int32';",
    "        case 'DT_UINT8':\n        case 'DT_INT8':\n        case 'DT_INT16':\n        case 'DT_UINT16':\n        case 'DT_UINT32':\n        case 'DT_UINT64':\n            return 'int32';\n        case 'DT_DOUBLE':\n        case 'DT_HALF':\n            return 'float32';",
  ],
  [
    "            throw new Error('Unsupported tensor DataType: ' + tfDtype +",
    "            return undefined; // modelport: the server refuses it, naming the tensor\n            throw new Error('Unsupported tensor DataType: ' + tfDtype +",
  ],
];

/**
 * tfjs-node's compiled protobuf enum stops at DT_BFLOAT16 (14), so a signature's DT_UINT16, DT_HALF,
 * DT_UINT32, DT_UINT64, DT_COMPLEX128 ... read as `tfDtype: undefined`: the values of types.proto.
 */
const DATA_TYPE_ENUM = [
  '  DT_BFLOAT16: 14,\n',
  '  DT_BFLOAT16: 14,\n  DT_QINT16: 15,\n  DT_QUINT16: 16,\n  DT_UINT16: 17,\n  DT_COMPLEX128: 18,\n  DT_HALF: 19,\n  DT_RESOURCE: 20,\n  DT_VARIANT: 21,\n  DT_UINT32: 22,\n  DT_UINT64: 23,\n  DT_FLOAT8_E5M2: 24,\n  DT_FLOAT8_E4M3FN: 25,\n  DT_FLOAT8_E4M3FNUZ: 26,\n  DT_FLOAT8_E4M3B11FNUZ: 27,\n  DT_FLOAT8_E5M2FNUZ: 28,\n  DT_INT4: 29,\n  DT_UINT4: 30,\n',
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
      if (!/\.(cc|h)$/.test(file)) continue;
      const source = fs.readFileSync(path.join(tfjsNodeDir, 'binding', file), 'utf8');
      fs.writeFileSync(path.join(staging, 'tfjs-node-binding', file), patchBindingSource(file, source));
    }
    fs.writeFileSync(
      path.join(staging, 'manifest.json'),
      `${JSON.stringify(
        {
          'tfjs-node': tfjsNodePkg.version,
          'tfjs-core': coreVersion,
          bindingSymbol: BINDING_SYMBOL,
          bindingPatch: BINDING_PATCH,
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
        if (path.basename(args.path) === 'api_pb.js') {
          if (source.split(DATA_TYPE_ENUM[0]).length !== 2)
            throw new Error(`${args.path} no longer has the DataType enum as this script patches it`);
          source = source.replace(DATA_TYPE_ENUM[0], () => DATA_TYPE_ENUM[1]);
        }
        if (path.basename(args.path) === 'saved_model.js') {
          for (const [from, to] of SAVED_MODEL_DTYPES) {
            if (source.split(from).length !== 2)
              throw new Error(`${args.path} no longer has mapTFDtypeToJSDtype as this script patches it`);
            source = source.replace(from, () => to);
          }
        }
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
