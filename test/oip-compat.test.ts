import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const ours = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'));
const official = parse(readFileSync(new URL('./fixtures/oip/open_inference_rest.yaml', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(ours, 'ours');
const validator = (schema: string) => ajv.getSchema(`ours#/components/schemas/${schema}`)!;
const examples = (schema: string) => Object.entries<unknown>(official.components.schemas[schema]['x-examples'] ?? {});

/** The response example of inference_rest.md (its missing comma after "id" fixed). */
const markdownResponseExample = {
  id: '42',
  outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] }],
};

describe('our /v2 schemas accept the official OIP examples', () => {
  it('the inference request example', () => {
    const [name, example] = examples('inference_request')[0]!;
    expect(name).toBe('Example 1');
    const validate = validator('InferenceRequest');
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('"Example 2" of inference_request is an inference response (outputs with data, no inputs): our response schema accepts it', () => {
    const [name, example] = examples('inference_request')[1]!;
    expect(name).toBe('Example 2');
    const response = validator('InferenceResponse');
    expect(response(example), JSON.stringify(response.errors)).toBe(true);
    // The official schema itself requires `inputs` on a request, as ours does.
    expect(official.components.schemas.inference_request.required).toEqual(['inputs']);
    expect(validator('InferenceRequest')(example)).toBe(false);
  });

  it('the inference response example of inference_rest.md', () => {
    const validate = validator('InferenceResponse');
    expect(validate(markdownResponseExample), JSON.stringify(validate.errors)).toBe(true);
  });

  it('every official datatype, and nested or flat tensor data', () => {
    const datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
    expect(ours.components.schemas.Datatype.enum).toEqual(datatypes);
    const validate = validator('InferenceRequest');
    expect(
      validate({
        inputs: [
          {
            name: 'm',
            shape: [2, 2],
            datatype: 'FP32',
            data: [
              [1, 2],
              [4, 5],
            ],
          },
        ],
      }),
    ).toBe(true);
    expect(
      validate({ inputs: [{ name: 's', shape: [1], datatype: 'BYTES', data: ['hello'] }], parameters: { any: 'x', n: 1, b: true } }),
    ).toBe(true);
  });

  it('the official paths all exist in ours', () => {
    const normalise = (p: string) => p.replace(/\$\{[^}]+\}|\{[^}]+\}/g, '{}').replace(/\/$/, '');
    const ourPaths = new Set(Object.keys(ours.paths).map(normalise));
    for (const path of Object.keys(official.paths)) expect(ourPaths.has(normalise(path)), path).toBe(true);
  });
});
