// A small JSON Schema validator for the subset vnat's documented schemas use: type (one or
// a list), const, enum, properties, required, additionalProperties: false, items, local
// $ref, pattern, minimum, format date-time. Anything else in a schema is an error, so the
// schema can never silently say more than this checks.
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  "$schema",
  "$id",
  "title",
  "description",
  "$defs",
  "$ref",
  "type",
  "const",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "pattern",
  "minimum",
  "format",
]);

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === "number" && actual === "integer");
}

/** Every violation as "PATH: what", empty when VALUE conforms to SCHEMA. */
export function validate(schema: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (ref: string): Schema => {
    const m = /^#\/\$defs\/(.+)$/.exec(ref);
    const defs = schema.$defs as Record<string, Schema> | undefined;
    const target = m ? defs?.[m[1]!] : undefined;
    if (!target) throw new Error(`schema: unresolvable $ref ${ref}`);
    return target;
  };
  const check = (s: Schema, v: unknown, path: string): void => {
    for (const key of Object.keys(s))
      if (!KNOWN.has(key)) throw new Error(`schema: keyword "${key}" at ${path} is not supported`);
    if (typeof s.$ref === "string") return check(resolve(s.$ref), v, path);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => matchesType(v, t))) {
        errors.push(`${path}: expected ${types.join(" or ")}, got ${typeOf(v)}`);
        return;
      }
    }
    if ("const" in s && v !== s.const) errors.push(`${path}: expected ${JSON.stringify(s.const)}`);
    if (Array.isArray(s.enum) && !s.enum.includes(v))
      errors.push(`${path}: ${JSON.stringify(v)} not one of ${s.enum.join(", ")}`);
    if (typeof v === "string") {
      if (typeof s.pattern === "string" && !new RegExp(s.pattern).test(v))
        errors.push(`${path}: "${v}" does not match ${s.pattern}`);
      if (s.format === "date-time" && Number.isNaN(Date.parse(v))) errors.push(`${path}: "${v}" is not a date-time`);
    }
    if (typeof v === "number" && typeof s.minimum === "number" && v < s.minimum)
      errors.push(`${path}: ${v} < ${s.minimum}`);
    if (Array.isArray(v) && s.items) v.forEach((item, i) => check(s.items as Schema, item, `${path}[${i}]`));
    if (typeOf(v) === "object" && (s.properties || s.required)) {
      const obj = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in obj)) errors.push(`${path}: missing "${r}"`);
      for (const [k, val] of Object.entries(obj)) {
        if (props[k]) check(props[k]!, val, `${path}.${k}`);
        else if (s.additionalProperties === false) errors.push(`${path}: unexpected property "${k}"`);
      }
    }
  };
  check(schema, value, "$");
  return errors;
}
