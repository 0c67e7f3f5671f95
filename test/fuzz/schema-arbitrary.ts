/**
 * JSON Schema (the subset openapi.yaml uses) → a fast-check arbitrary of values that match it.
 * Sizes are kept small (the mutations in mutations.ts make things huge on purpose); `$ref`s are
 * resolved inside the spec; recursion stops at a depth limit.
 */
import fc from 'fast-check';

type Schema = Record<string, any>;

export interface SchemaArbitraryOptions {
  /** Longest generated array (default 4). */
  maxItems?: number;
  /** Longest generated free-form string (default 12). */
  maxLength?: number;
}

export function schemaArbitrary(spec: any, schema: Schema, options: SchemaArbitraryOptions = {}, depth = 0): fc.Arbitrary<unknown> {
  const maxItems = options.maxItems ?? 4;
  const maxLength = options.maxLength ?? 12;
  const recurse = (s: Schema) => schemaArbitrary(spec, s, options, depth + 1);
  schema = resolve(spec, schema);
  if (depth > 8) return fc.constant(null);

  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if (schema.allOf) return recurse(mergeAll(spec, schema));
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) {
    // `oneOf: [{required: [a]}, {required: [b]}]` next to `properties` picks which fields are required.
    if (variants.every((v: Schema) => !v.type && !v.properties && !v.$ref && v.required)) {
      const { oneOf: _o, anyOf: _a, ...base } = schema;
      return fc.oneof(
        ...variants.map((v: Schema) =>
          recurse({
            ...base,
            required: [...(base.required ?? []), ...v.required],
            properties: onlyOneVariant(base.properties, variants, v),
          }),
        ),
      );
    }
    return fc.oneof(...variants.map((v: Schema) => recurse(v)));
  }
  const type = schema.type;
  if (Array.isArray(type)) return fc.oneof(...type.map((t: string) => recurse({ ...schema, type: t })));

  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1000);
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : Math.max(min, 0) + 1000);
      return fc.integer({ min, max: Math.max(min, max) });
    }
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum ?? -1e6;
      const max = schema.maximum ?? schema.exclusiveMaximum ?? 1e6;
      return fc.double({
        min,
        max,
        noNaN: true,
        noDefaultInfinity: true,
        minExcluded: schema.exclusiveMinimum !== undefined,
        maxExcluded: schema.exclusiveMaximum !== undefined,
      });
    }
    case 'string':
      return stringArbitrary(schema, maxLength);
    case 'array': {
      const items = schema.items ? recurse(schema.items) : fc.jsonValue({ maxDepth: 1 });
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? maxItems, maxItems));
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object':
    case undefined: {
      if (!schema.properties && !schema.additionalProperties && type === undefined) return fc.jsonValue({ maxDepth: 2 });
      const required: string[] = schema.required ?? [];
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries<Schema>(schema.properties ?? {})) shape[name] = recurse(property);
      const fixed = fc.record(shape, { requiredKeys: required.filter((r) => r in shape) });
      const extra =
        schema.additionalProperties && typeof schema.additionalProperties === 'object'
          ? fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), recurse(schema.additionalProperties), { maxKeys: 2 })
          : fc.constant({});
      // Required names without a property schema (and minProperties) get any small value.
      const loose = required.filter((r) => !(r in shape));
      return fc
        .tuple(fixed, extra, fc.tuple(...loose.map(() => fc.jsonValue({ maxDepth: 1 }))))
        .map(([a, b, c]) => {
          const value: Record<string, unknown> = { ...b, ...a };
          loose.forEach((name, i) => (value[name] = c[i]));
          return value;
        })
        .filter((value) => Object.keys(value).length >= (schema.minProperties ?? 0));
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

function stringArbitrary(schema: Schema, maxLength: number): fc.Arbitrary<string> {
  if (schema.format === 'date-time')
    return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.pattern)
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length <= (schema.maxLength ?? Infinity) && s.length >= (schema.minLength ?? 0));
  const min = schema.minLength ?? 0;
  return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(schema.maxLength ?? maxLength, maxLength)) });
}

export function resolve(spec: any, schema: Schema): Schema {
  let current = schema;
  for (let guard = 0; current?.$ref && guard < 16; guard++) {
    const segments = String(current.$ref)
      .replace(/^#\//, '')
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const target = segments.reduce((node: any, key) => node?.[key], spec);
    const { $ref: _ref, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return current ?? {};
}

/** allOf members merged into one object schema (properties and required lists combined). */
function mergeAll(spec: any, schema: Schema): Schema {
  const { allOf, ...rest } = schema;
  const merged: Schema = { ...rest };
  for (const part of (allOf as Schema[]).map((p) => resolve(spec, p.allOf ? mergeAll(spec, resolve(spec, p)) : p))) {
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties') merged.properties = { ...merged.properties, ...value };
      else if (key === 'required') merged.required = [...new Set([...(merged.required ?? []), ...value])];
      else if (key === 'unevaluatedProperties' || key === 'additionalProperties') merged[key] = merged[key] ?? value;
      else merged[key] ??= value;
    }
  }
  merged.type ??= 'object';
  return merged;
}

/** With `oneOf` over required sets, leave out the fields only the other variants require. */
function onlyOneVariant(
  properties: Record<string, Schema> | undefined,
  variants: Schema[],
  chosen: Schema,
): Record<string, Schema> | undefined {
  if (!properties) return properties;
  const others = new Set(variants.filter((v) => v !== chosen).flatMap((v) => v.required as string[]));
  for (const name of chosen.required as string[]) others.delete(name);
  return Object.fromEntries(Object.entries(properties).filter(([name]) => !others.has(name)));
}
