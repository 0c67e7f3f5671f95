#!/usr/bin/env node
// Build step of @modelport/server (its `build` script): copies Swagger UI's browser bundle and
// styles into vendor/swagger-ui/, so the package ships them as files instead of depending on
// swagger-ui-dist, whose @scarf/scarf dependency runs an install script (analytics) in every
// app that installs the server. Source-map comments are dropped: the maps are not shipped.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.dirname(createRequire(path.join(packageRoot, 'package.json')).resolve('swagger-ui-dist/package.json'));
const target = path.join(packageRoot, 'vendor', 'swagger-ui');

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
  const text = readFileSync(path.join(source, file), 'utf8').replace(/\n?\/[/*]# sourceMappingURL=\S+(\s*\*\/)?\s*$/, '\n');
  writeFileSync(path.join(target, file), text);
}
for (const file of ['LICENSE', 'NOTICE', 'swagger-ui-bundle.js.LICENSE.txt'])
  copyFileSync(path.join(source, file), path.join(target, file));
const { version } = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8'));
console.log(`[modelport] vendored swagger-ui-dist ${version} into vendor/swagger-ui/`);
