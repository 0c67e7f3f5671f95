/**
 * openapi.yaml at run time: finds the operation a request is for and validates the request
 * against it before any handler runs, so a bad request never reaches a model.
 */
import { readFileSync } from 'node:fs';
import { SPEC_PATH } from '../server/package-paths';
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorDetail } from '../http/errors';
import { parseSpec } from './spec';

export { SPEC_PATH };

// ajv and ajv-formats are CommonJS: under Node's ESM loader their default export is the module
// object, under bundlers it is the class; take whichever is the function.
type AjvClass = typeof Ajv2020Module;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;
type Ajv2020 = InstanceType<AjvClass>;
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as typeof addFormatsModule;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];

interface ParameterSpec {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: object;
}

export interface Operation {
  operationId: string;
  method: Method;
  pathTemplate: string;
  /** Security requirements, [] for public operations, undefined for "inherit the document's". */
  scopes: string[] | undefined;
  bodyContentTypes: string[];
  bodyRequired: boolean;
  /** Takes model uploads (multipart or archives), which have their own size limit. */
  isUpload: boolean;
  validateParams: (params: {
    path: Record<string, string>;
    query: Record<string, string>;
    header: Record<string, string>;
  }) => ErrorDetail[];
  /** Declares header parameters (so `validateParams` needs the request's headers). */
  hasHeaderParams: boolean;
  /** Takes an `Idempotency-Key` header: a retry with the same key gets the first answer. */
  idempotent: boolean;
  /** Validates a parsed JSON body (or the JSON header of a binary body). */
  validateBody: ((body: unknown) => ErrorDetail[]) | undefined;
}

export interface Match {
  operation: Operation;
  params: Record<string, string>;
}

interface CompiledRoute {
  operation: Operation;
  regex: RegExp;
  names: string[];
  literalSegments: number;
}

export class Contract {
  readonly spec: any;
  readonly operations = new Map<string, Operation>();
  /** Validates without coercion or defaults (responses must match as sent). */
  readonly ajv: Ajv2020;
  /** Each operation's declared responses, by status (`200`, `4XX`, `default`), references resolved. */
  private readonly responses = new Map<string, Record<string, any>>();
  private readonly routes = new Map<Method, CompiledRoute[]>();
  /** Paths that exist for some method, to tell 405 from 404. */
  private readonly anyMethodRoutes: CompiledRoute[] = [];

  constructor(specText = readFileSync(SPEC_PATH, 'utf8')) {
    this.spec = parseSpec(specText);
    // The spec's schemas are checked by `npm run lint:spec`; checking them again against the JSON
    // Schema meta-schema (compiling it first) took ~0.1-0.2 s of every start.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(this.spec, 'openapi');
    this.ajv = ajv;
    const coercing = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true, useDefaults: true, validateSchema: false });
    addFormats(coercing);
    coercing.addSchema(this.spec, 'openapi');

    for (const [pathTemplate, pathItem] of Object.entries<any>(this.spec.paths ?? {})) {
      for (const method of METHODS) {
        const op = pathItem[method];
        if (!op) continue;
        const parameters = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])].map((p) => this.deref(p) as ParameterSpec);
        const content = op.requestBody ? (this.deref(op.requestBody).content ?? {}) : {};
        // Binary infer bodies carry the same JSON request as a header, so one validator serves both.
        // Validators are compiled on first use: compiling all of them took a third of start-up.
        const jsonSchema = content['application/json']?.schema;
        const bodyValidator = jsonSchema ? once(() => ajv.compile(pointIntoSpec(jsonSchema) as object)) : undefined;
        const operation: Operation = {
          operationId: op.operationId,
          method,
          pathTemplate,
          scopes: op.security === undefined ? undefined : op.security.flatMap((req: Record<string, string[]>) => Object.values(req).flat()),
          bodyContentTypes: Object.keys(content),
          bodyRequired: Boolean(op.requestBody && this.deref(op.requestBody).required),
          isUpload: 'multipart/form-data' in content,
          validateParams: compileParams(coercing, parameters),
          hasHeaderParams: parameters.some((p) => p.in === 'header'),
          idempotent: parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
          validateBody: bodyValidator
            ? (body) => {
                const validate = bodyValidator();
                return validate(body) ? [] : toDetails(validate.errors, '');
              }
            : undefined,
        };
        this.operations.set(operation.operationId, operation);
        this.responses.set(
          operation.operationId,
          Object.fromEntries(Object.entries<any>(op.responses ?? {}).map(([status, r]) => [status, this.deref(r)])),
        );
        const route = compileRoute(operation);
        this.anyMethodRoutes.push(route);
        const list = this.routes.get(method) ?? [];
        list.push(route);
        this.routes.set(method, list);
      }
    }
    // The most literal template wins: `/v2/repository/index` before `/v2/models/{name}`.
    for (const list of this.routes.values()) list.sort((a, b) => b.literalSegments - a.literalSegments);
  }

  /** The operation for a method and path, or `undefined` with whether the path exists at all. */
  match(method: string, pathname: string): Match | { operation: undefined; pathExists: boolean } {
    const list = this.routes.get(method.toLowerCase() as Method);
    for (const route of list ?? []) {
      const params = matchRoute(route, pathname);
      if (params) return { operation: route.operation, params };
    }
    return { operation: undefined, pathExists: this.anyMethodRoutes.some((route) => matchRoute(route, pathname)) };
  }

  /** The response an operation declares for a status (exact, then `4XX`, then `default`), if any. */
  responseSpec(
    operationId: string,
    status: number,
  ): { content?: Record<string, { schema?: unknown }>; headers?: Record<string, unknown> } | undefined {
    const declared = this.responses.get(operationId) ?? {};
    return declared[String(status)] ?? declared[`${String(status)[0]}XX`] ?? declared.default;
  }

  declaredStatuses(operationId: string): string[] {
    return Object.keys(this.responses.get(operationId) ?? {});
  }

  /** Compiles a schema from the spec (its local `#/...` references resolve inside openapi.yaml). */
  compileSchema(schema: unknown): ValidateFunction {
    return this.ajv.compile(pointIntoSpec(schema) as object);
  }

  private deref(node: any): any {
    if (!node?.$ref) return node;
    const segments = String(node.$ref).replace(/^#\//, '').split('/').map(unescapePointer);
    return segments.reduce((value: any, key) => value?.[key], this.spec);
  }
}

function compileRoute(operation: Operation): CompiledRoute {
  const names: string[] = [];
  const segments = operation.pathTemplate.split('/').filter(Boolean);
  const pattern = segments
    .map((segment) =>
      segment.replace(/\{([^}]+)\}|([^{]+)/g, (_, name: string | undefined, literal: string | undefined) => {
        if (name) {
          names.push(name);
          return '([^/]+)';
        }
        return escapeRegex(literal ?? '');
      }),
    )
    .join('/');
  return {
    operation,
    regex: new RegExp(`^/${pattern}/?$`),
    names,
    literalSegments: segments.filter((s) => !s.includes('{')).length,
  };
}

function matchRoute(route: CompiledRoute, pathname: string): Record<string, string> | undefined {
  const m = route.regex.exec(pathname);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  route.names.forEach((name, i) => {
    params[name] = safeDecode(m[i + 1] ?? '');
  });
  return params;
}

function compileParams(ajv: Ajv2020, parameters: ParameterSpec[]): Operation['validateParams'] {
  const compile = once(() => {
    const byLocation = new Map<string, ValidateFunction>();
    for (const location of ['path', 'query', 'header'] as const) {
      const own = parameters.filter((p) => p.in === location);
      if (!own.length) continue;
      const properties = Object.fromEntries(
        own.map((p) => [location === 'header' ? p.name.toLowerCase() : p.name, pointIntoSpec(p.schema ?? {})]),
      );
      const required = own.filter((p) => p.required).map((p) => (location === 'header' ? p.name.toLowerCase() : p.name));
      byLocation.set(location, ajv.compile({ type: 'object', properties, required }));
    }
    return byLocation;
  });
  return (values) => {
    const details: ErrorDetail[] = [];
    for (const [location, validate] of compile()) {
      const data = values[location as 'path' | 'query' | 'header'];
      if (!validate(data)) details.push(...toDetails(validate.errors, location));
    }
    return details;
  };
}

/** Ajv errors → `details`: a JSON pointer to the bad field and what is wrong with it. */
export function toDetails(errors: ErrorObject[] | null | undefined, prefix: string): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const error of errors ?? []) {
    let path = error.instancePath;
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'required')
      (path += `/${(error.params as { missingProperty: string }).missingProperty}`), (message = 'is required');
    if (error.keyword === 'additionalProperties')
      (path += `/${(error.params as { additionalProperty: string }).additionalProperty}`), (message = 'is not allowed');
    if (error.keyword === 'enum') message += `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    const full = prefix ? `${prefix}${path || ''}` : path || '/';
    const key = `${full}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    details.push({ path: full, message });
  }
  // anyOf/oneOf failures produce one error per branch; the first few say enough.
  return details.slice(0, 20);
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** Rewrites local `#/...` refs so they resolve inside the spec registered as `openapi`. */
function pointIntoSpec(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(pointIntoSpec);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `openapi${value}` : pointIntoSpec(value),
    ]),
  );
}
function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
