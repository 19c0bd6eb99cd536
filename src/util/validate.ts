/** Schema checks of input files, with errors that name the file and the field. */
import type { z } from "zod";
import { InvalidInputError } from "../errors.js";

/** `raw` checked against `schema`; the first problem becomes "source: field.path: message". */
export function validateInput<T>(schema: z.ZodType<T>, raw: unknown, source: string): T {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InvalidInputError(`${source}: ${i.path.join(".") || "(top)"}: ${i.message}`);
  }
  return r.data;
}

/** JSON text parsed and checked against `schema`. */
export function parseJsonInput<T>(text: string, schema: z.ZodType<T>, source: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  return validateInput(schema, raw, source);
}
