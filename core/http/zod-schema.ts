import { z } from 'zod';
import type { FastifySchemaCompiler } from 'fastify';
import { CapstanError } from '../errors.ts';

/**
 * Route schemas are written once, in zod: `schemaOf` gives the JSON Schema that the OpenAPI docs
 * show, and remembers the zod schema so `zodValidatorCompiler` validates with it.
 */
const zodOf = new WeakMap<object, z.ZodType>();

export function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  zodOf.set(json, schema);
  return json;
}

export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const zodSchema = zodOf.get(schema as object);
  if (!zodSchema) return (data) => ({ value: data });
  return (data) => {
    const result = zodSchema.safeParse(data);
    if (result.success) return { value: result.data };
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    return {
      error: new CapstanError('CAPSTAN_ERR_BAD_REQUEST', `Invalid ${httpPart ?? 'request'}: "${key}": ${issue.message}`, {
        details: { part: httpPart, issues: result.error.issues.map((i) => ({ key: i.path.join('.'), problem: i.message })) },
      }),
    };
  };
};
