/**
 * The server's web pages, outside the API contract: `GET /docs/` (the API reference: Swagger UI,
 * vendored into the package from swagger-ui-dist, on this server's own copy of openapi.yaml), `GET
 * /openapi.yaml` (the spec as it is) and `GET /playground/` (a small app that uses the SDK in the
 * browser against this server). Static and public: the API calls the pages make carry the key.
 *
 * middleware/pages.ts asks `pages.handles(pathname)` for every GET before routing and lets
 * `pages.serve` answer; only the paths listed here are handled, anything else goes on to the API's 404.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { IncomingRequest } from '../http/request';
import { PACKAGE_ROOT, PACKAGE_VERSION, RUNNING_BUILT, SPEC_PATH } from '../server/package-paths';
import { parseSpec } from '../contract/spec';
import { browserSdk } from './sdk-bundle';

const ASSETS_DIR = path.join(PACKAGE_ROOT, 'pages', 'assets');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.yaml': 'application/yaml; charset=utf-8',
};

/** Pages may load only what this server serves: no CDN, nothing from elsewhere. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  // Swagger UI sets inline styles.
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join('; ');

type Source =
  | { kind: 'file'; file: string }
  | { kind: 'redirect'; to: string }
  | { kind: 'spec-json' }
  | { kind: 'sdk' }
  | { kind: 'config' };

export interface ServeContext {
  /** Whether the server asks for API keys (the playground says so). */
  auth: boolean;
  requestId: string;
}

export class Pages {
  private table: Map<string, Source> | undefined;
  private readonly fileCache = new Map<string, Promise<Uint8Array>>();
  private spec: Promise<Record<string, unknown>> | undefined;

  /** Whether `GET pathname` is one of the pages or their assets. */
  handles(pathname: string): boolean {
    return this.routes().has(pathname);
  }

  async serve(request: IncomingRequest, { auth, requestId }: ServeContext): Promise<Response> {
    const url = new URL(request.url);
    const source = this.routes().get(url.pathname);
    const headers = new Headers({ 'x-request-id': requestId, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    try {
      switch (source?.kind) {
        case 'redirect':
          headers.set('location', source.to + url.search);
          return new Response(null, { status: 301, headers });
        case 'file':
          return this.content(request, headers, await this.read(source.file), typeOf(source.file));
        case 'spec-json': {
          // This server, so "Try it out" calls it and not the spec's default: as the relative URL `/`
          // (resolved against this document's address), never the request's Host header, which a
          // caller (or a DNS-rebinding page) chooses.
          const copy = { ...(await this.loadSpec()), servers: [{ url: '/', description: 'this server' }] };
          headers.set('cache-control', 'no-store');
          return this.content(request, headers, new TextEncoder().encode(JSON.stringify(copy)), CONTENT_TYPES['.json']!);
        }
        case 'sdk':
          return this.content(request, headers, (await browserSdk()).code, CONTENT_TYPES['.js']!);
        case 'config':
          headers.set('cache-control', 'no-store');
          return this.content(
            request,
            headers,
            new TextEncoder().encode(JSON.stringify({ auth, version: PACKAGE_VERSION })),
            CONTENT_TYPES['.json']!,
          );
        default:
          return problem(404, 'route_not_found', `no page at ${url.pathname}`, requestId, headers);
      }
    } catch (error) {
      console.error(`[modelport] cannot serve ${url.pathname} (request ${requestId}):`, error);
      return problem(500, 'internal_error', `cannot serve ${url.pathname} (request ${requestId})`, requestId, headers);
    }
  }

  /** A 200 with an ETag, or a 304 when the browser already has these bytes. */
  private content(request: IncomingRequest, headers: Headers, body: Uint8Array, type: string): Response {
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    headers.set('content-type', type);
    headers.set('etag', etag);
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache');
    if (type.startsWith('text/html')) headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
    if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers });
  }

  /** Files are read once in the built package; from source, on every request, so edits show at once. */
  private read(file: string): Promise<Uint8Array> {
    if (!RUNNING_BUILT) return readFile(file).then((buffer) => new Uint8Array(buffer));
    let cached = this.fileCache.get(file);
    if (!cached) {
      cached = readFile(file).then((buffer) => new Uint8Array(buffer));
      cached.catch(() => this.fileCache.delete(file));
      this.fileCache.set(file, cached);
    }
    return cached;
  }

  private loadSpec() {
    this.spec ??= readFile(SPEC_PATH, 'utf8').then((text) => parseSpec(text) as Record<string, unknown>);
    return this.spec;
  }

  /** Path → what answers it: the asset folders as they are on disk, plus the generated ones. */
  private routes(): Map<string, Source> {
    if (this.table) return this.table;
    const table = new Map<string, Source>();
    for (const page of ['docs', 'playground']) {
      table.set(`/${page}`, { kind: 'redirect', to: `/${page}/` });
      const dir = path.join(ASSETS_DIR, page);
      for (const name of listFiles(dir)) {
        if (!CONTENT_TYPES[path.extname(name)]) continue;
        table.set(name === 'index.html' ? `/${page}/` : `/${page}/${name}`, { kind: 'file', file: path.join(dir, name) });
      }
    }
    // Swagger UI's standalone browser bundle and its styles: vendored into the package by its build.
    const swaggerUi = swaggerUiDir();
    if (swaggerUi) {
      table.set('/docs/swagger-ui-bundle.js', { kind: 'file', file: path.join(swaggerUi, 'swagger-ui-bundle.js') });
      table.set('/docs/swagger-ui.css', { kind: 'file', file: path.join(swaggerUi, 'swagger-ui.css') });
    }
    table.set('/docs/openapi.json', { kind: 'spec-json' });
    table.set('/openapi.yaml', { kind: 'file', file: SPEC_PATH });
    table.set('/playground/modelport.js', { kind: 'sdk' });
    table.set('/playground/config.json', { kind: 'config' });
    this.table = table;
    return table;
  }
}

/** The files of an asset folder; none (and one warning) when the folder is missing. */
function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    console.warn(`[modelport] web pages: cannot read ${dir} (${(error as Error).message}); its pages are not served`);
    return [];
  }
}

/** The package's vendor/swagger-ui (pages/vendor-swagger-ui.mjs), or, in a checkout, swagger-ui-dist itself. */
function swaggerUiDir(): string | undefined {
  const vendored = path.join(PACKAGE_ROOT, 'vendor', 'swagger-ui');
  if (existsSync(path.join(vendored, 'swagger-ui-bundle.js'))) return vendored;
  try {
    return path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    console.warn(
      '[modelport] web pages: Swagger UI is missing (vendor/swagger-ui, or swagger-ui-dist in a checkout); /docs/ cannot render the API reference',
    );
    return undefined;
  }
}

function typeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
}

function problem(status: number, code: string, message: string, requestId: string, headers: Headers): Response {
  headers.set('content-type', 'application/json');
  return new Response(JSON.stringify({ error: message, code, status, request_id: requestId }), { status, headers });
}

/** The one instance middleware/pages.ts uses: files, the parsed spec and the SDK bundle are cached per process. */
export const pages = new Pages();
