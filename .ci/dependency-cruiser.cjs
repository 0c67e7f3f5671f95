/**
 * Import rules for the SDK (src/) and the server (mock-server/), checked by dependency-cruiser:
 *   npm run lint:deps   (npx depcruise --config .ci/dependency-cruiser.cjs src mock-server)
 * Type-only imports count: a cycle or a wrong-way import through `import type` is still one.
 */

// The server's layers, bottom to top. This list mirrors mock-server/ARCHITECTURE.md: change
// both together. A module may import from its own layer and from the layers below it, never
// from a layer above. Paths are relative to mock-server/; a path ending in '/' is a folder, any
// other path is one file, and a file named in one layer leaves its folder's layer (server/state.ts
// and server/context.ts are below the middleware, the rest of server/ is assembly). Every server module must be in a layer.
const LAYERS = [
  { name: 'foundation', paths: ['server/package-paths.ts'] },
  { name: 'http primitives', paths: ['http/'] },
  { name: 'contract', paths: ['contract/'] },
  { name: 'registry', paths: ['registry/'] },
  { name: 'runtime', paths: ['runtime/'] },
  { name: 'serving', paths: ['serving/'] },
  { name: 'datasets', paths: ['datasets/'] },
  { name: 'domain services', paths: ['evaluation/', 'training/', 'jobs/', 'explain/', 'export/'] },
  { name: 'access, test controls and pages', paths: ['auth/', 'test-controls/', 'pages/'] },
  { name: 'state', paths: ['server/state.ts', 'server/context.ts'] },
  { name: 'middleware', paths: ['middleware/'] },
  { name: 'routes', paths: ['routes/'] },
  { name: 'assembly', paths: ['server/'] },
  { name: 'cli', paths: ['cli/', 'bin/'] },
  { name: 'entry points', paths: ['index.ts', 'msw.ts', 'testing.ts', 'tsup.config.ts', 'vitest.d.ts'] },
];

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const files = LAYERS.flatMap((layer) => layer.paths).filter((p) => !p.endsWith('/'));
// A layer's modules: its files, and the modules in its folders that no layer names as a file
// (server/package-paths.ts is in the bottom layer, the rest of server/ in assembly).
const member = (layer) => {
  const others = files.filter((p) => !layer.paths.includes(p)).map(escapeRegex);
  const own = layer.paths.map((p) => `${escapeRegex(p)}${p.endsWith('/') ? '' : '$'}`);
  return `^(?!mock-server/(${others.join('|')})$)mock-server/(${own.join('|')})`;
};
const anyOf = (layers) => layers.map(member).join('|');

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i + 1}-${layer.name.replace(/\W+/g, '-')}`,
  comment: `${layer.name} (layer ${i + 1} of ${LAYERS.length}) imports only from its own layer and the ones below it (mock-server/ARCHITECTURE.md)`,
  severity: 'error',
  from: { path: member(layer) },
  to: { path: anyOf(LAYERS.slice(i + 1)) },
}));

const placed = anyOf(LAYERS);
const excluded = '^mock-server/(dist|vendor|node_modules|models)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included: a cycle makes module order matter and hides a layer that is not one',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'sdk-not-server',
      comment: 'The SDK (src/) is published on its own and runs in browsers: it never imports the server',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^mock-server/' },
    },
    {
      name: 'server-uses-public-sdk',
      comment:
        "The server uses the SDK as its users do, through the package entries ('modelport' = src/index.ts, 'modelport/cassette', 'modelport/record')",
      severity: 'error',
      from: { path: '^mock-server/' },
      to: { path: '^src/', pathNot: '^src/(index|cassette/index|record/index)\\.ts$' },
    },
    {
      name: 'server-module-in-a-layer',
      comment: 'Every server module is in one layer of LAYERS (.ci/dependency-cruiser.cjs) and of mock-server/ARCHITECTURE.md',
      severity: 'error',
      from: { path: '^mock-server/', pathNot: `${placed}|${excluded}` },
      to: {},
    },
    {
      name: 'server-import-in-a-layer',
      comment: 'Every server module is in one layer of LAYERS (.ci/dependency-cruiser.cjs) and of mock-server/ARCHITECTURE.md',
      severity: 'error',
      from: { path: '^mock-server/' },
      to: { path: '^mock-server/', pathNot: `${placed}|${excluded}` },
    },
    ...layerRules,
    {
      name: 'not-to-unresolvable',
      comment:
        'An import that resolves to nothing is a typo or a missing dependency. Except files that exist only at run time: ' +
        "vendor/'s tfjs bundles and manifest, required by runtime/native/prepare.mjs, and the playground's SDK bundle (pages/sdk-bundle.ts)",
      severity: 'error',
      from: {},
      to: {
        couldNotResolve: true,
        pathNot: '^\\./(tfjs\\.cjs|tfjs-node\\.cjs|manifest\\.json|modelport\\.js)$',
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)node_modules/', '^mock-server/(dist|vendor|models)/', '^dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

// For test/architecture.test.ts, which checks that mock-server/ARCHITECTURE.md shows these layers
// (not enumerable, so dependency-cruiser's config check does not see it).
Object.defineProperty(module.exports, 'LAYERS', { value: LAYERS });
