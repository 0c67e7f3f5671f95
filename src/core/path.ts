/**
 * Request paths written as the routes read: path`v2/models/${model}/versions/${version}/infer`.
 * Every interpolated value is percent-encoded as one segment, so a model named `a/b?c#d` is
 * `a%2Fb%3Fc%23d` on the wire and the server decodes it back to the same name; the literal text
 * is left as written.
 */
export function path(literals: TemplateStringsArray, ...segments: (string | number)[]): string {
  let result = literals[0]!;
  for (let i = 0; i < segments.length; i++) result += encodeURIComponent(segments[i]!) + literals[i + 1]!;
  return result;
}
