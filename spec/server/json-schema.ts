/**
 * `$jsonSchema` as mongod evaluates it: JSON Schema draft 4 keywords plus
 * `bsonType`, on BSON values (a Date, an ObjectId or an int64 is not an
 * "object"; `1` and `1.0` are different BSON types), and the explanation
 * of a failure that mongod puts in a DocumentValidationFailure's
 * `errInfo.details` (`operatorName`, `schemaRulesNotSatisfied`,
 * `propertiesNotSatisfied`, `specifiedAs`, `reason`, `consideredValue`, …).
 *
 * A JSON Schema library validates JSON values and reports a flat list of
 * errors, so it could neither see the BSON types nor give mongod's tree of
 * reasons; this evaluator does both for the keywords mongod supports.
 *
 * Simplified: a failing rule is explained once (mongod sometimes nests a
 * rule's reasons deeper), and `oneOf` with several matches reports only
 * that more than one schema matched.
 */
import type { Document } from 'bson';
import { compareValues, valuesEqual } from './bson-order';
import { CommandError, bsonTypeName } from './errors';
import { compareNumbers, numKind, toJsNumber } from './numbers';

/** The explanations of the rules a value breaks; empty when it satisfies the schema. */
type Check = (value: unknown) => Document[];

const KEYWORDS = new Set([
  'bsonType', 'type', 'enum', 'required', 'properties', 'additionalProperties', 'patternProperties', 'minProperties',
  'maxProperties', 'dependencies', 'items', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'allOf', 'anyOf', 'oneOf', 'not',
  'title', 'description',
]);
const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id']);
const BSON_TYPES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex', 'dbPointer',
  'javascript', 'symbol', 'javascriptWithScope', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'number',
]);
const JSON_TYPES = new Set(['object', 'array', 'number', 'boolean', 'string', 'null']);

function isDocument(v: unknown): v is Document {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function failParse(message: string): CommandError {
  return new CommandError('FailedToParse', message);
}

/** The BSON type names a value has (`number` for any numeric one). */
function typeNames(value: unknown): string[] {
  const name = bsonTypeName(value);
  return numKind(value) ? [name, 'number'] : [name];
}

/** The JSON Schema type of a BSON value, as mongod maps them. */
function jsonType(value: unknown): string | undefined {
  const name = bsonTypeName(value);
  if (numKind(value)) return 'number';
  if (name === 'bool') return 'boolean';
  return ['object', 'array', 'string', 'null'].includes(name) ? name : undefined;
}

/** Compiles a `$jsonSchema` document; throws mongod's parse errors for what it refuses. */
export function compileSchema(schema: unknown): (doc: unknown) => Document | undefined {
  if (!isDocument(schema)) throw new CommandError('TypeMismatch', '$jsonSchema must be an object');
  const check = compile(schema);
  return (doc) => {
    const failures = check(doc);
    if (failures.length === 0) return undefined;
    return { operatorName: '$jsonSchema', ...(typeof schema.title === 'string' ? { title: schema.title } : {}), schemaRulesNotSatisfied: failures };
  };
}

function compile(schema: Document): Check {
  for (const key of Object.keys(schema)) {
    if (UNSUPPORTED.has(key)) throw failParse(`$jsonSchema keyword '${key}' is not currently supported`);
    if (!KEYWORDS.has(key)) throw failParse(`Unknown $jsonSchema keyword: ${key}`);
  }
  const checks: Check[] = [];
  for (const [keyword, spec] of Object.entries(schema)) {
    const check = RULES[keyword]?.(spec, schema);
    if (check) checks.push(check);
  }
  return (value) => checks.flatMap((c) => c(value));
}

function subschema(spec: unknown, keyword: string): Check {
  if (!isDocument(spec)) throw failParse(`$jsonSchema keyword '${keyword}' must be an object`);
  return compile(spec);
}

function list(spec: unknown, keyword: string): Check[] {
  if (!Array.isArray(spec) || spec.length === 0) throw failParse(`$jsonSchema keyword '${keyword}' must be a non-empty array`);
  return spec.map((s) => subschema(s, keyword));
}

function whenType(test: (v: unknown) => boolean, check: Check): Check {
  return (value) => (test(value) ? check(value) : []);
}

const isNumber = (v: unknown) => numKind(v) !== undefined;
const isString = (v: unknown) => typeof v === 'string';
const isArray = (v: unknown) => Array.isArray(v);

function failure(operatorName: string, specifiedAs: Document, extra: Document): Document {
  return { operatorName, specifiedAs, ...extra };
}

function considered(value: unknown, reason: string): Document {
  return { reason, consideredValue: value };
}

type Rule = (spec: unknown, schema: Document) => Check | undefined;

const RULES: Record<string, Rule> = {
  bsonType: (spec) => typeRule('bsonType', spec, BSON_TYPES, (v) => typeNames(v)),
  type: (spec) => typeRule('type', spec, JSON_TYPES, (v) => [jsonType(v) ?? '']),
  enum: (spec) => {
    if (!Array.isArray(spec) || spec.length === 0) throw failParse("$jsonSchema keyword 'enum' must be a non-empty array");
    return (v) => (spec.some((e) => valuesEqual(e, v)) ? [] : [failure('enum', { enum: spec }, considered(v, 'value was not found in enum'))]);
  },
  minimum: (spec, schema) => bound('minimum', spec, schema.exclusiveMinimum === true, (order, exclusive) => (exclusive ? order > 0 : order >= 0)),
  maximum: (spec, schema) => bound('maximum', spec, schema.exclusiveMaximum === true, (order, exclusive) => (exclusive ? order < 0 : order <= 0)),
  exclusiveMinimum: () => undefined,
  exclusiveMaximum: () => undefined,
  multipleOf: (spec) => {
    if (!isNumber(spec) || !(toJsNumber(spec) > 0)) throw failParse("$jsonSchema keyword 'multipleOf' must be a positive number");
    const divisor = toJsNumber(spec);
    return whenType(isNumber, (v) => (Math.abs(toJsNumber(v) % divisor) < 1e-12 ? [] : [failure('multipleOf', { multipleOf: spec }, considered(v, 'considered value is not a multiple of the specified value'))]));
  },
  minLength: (spec) => length('minLength', spec, isString, (v) => [...(v as string)].length, (n, limit) => n >= limit, 'specified string length was not satisfied'),
  maxLength: (spec) => length('maxLength', spec, isString, (v) => [...(v as string)].length, (n, limit) => n <= limit, 'specified string length was not satisfied'),
  minItems: (spec) => length('minItems', spec, isArray, (v) => (v as unknown[]).length, (n, limit) => n >= limit, 'array did not match specified length'),
  maxItems: (spec) => length('maxItems', spec, isArray, (v) => (v as unknown[]).length, (n, limit) => n <= limit, 'array did not match specified length'),
  minProperties: (spec) => length('minProperties', spec, isDocument, (v) => Object.keys(v as Document).length, (n, limit) => n >= limit, 'specified number of properties was not satisfied'),
  maxProperties: (spec) => length('maxProperties', spec, isDocument, (v) => Object.keys(v as Document).length, (n, limit) => n <= limit, 'specified number of properties was not satisfied'),
  pattern: (spec) => {
    if (typeof spec !== 'string') throw failParse("$jsonSchema keyword 'pattern' must be a string");
    const re = new RegExp(spec, 'u');
    return whenType(isString, (v) => (re.test(v as string) ? [] : [failure('pattern', { pattern: spec }, considered(v, 'regular expression did not match'))]));
  },
  required: (spec) => {
    if (!Array.isArray(spec) || spec.length === 0 || !spec.every(isString)) throw failParse("$jsonSchema keyword 'required' must be a non-empty array of strings");
    return whenType(isDocument, (v) => {
      const missing = (spec as string[]).filter((p) => !((v as Document)[p] !== undefined));
      return missing.length === 0 ? [] : [{ operatorName: 'required', specifiedAs: { required: spec }, missingProperties: missing }];
    });
  },
  properties: (spec) => {
    if (!isDocument(spec)) throw failParse("$jsonSchema keyword 'properties' must be an object");
    const props = Object.entries(spec).map(([name, s]) => ({ name, check: subschema(s, 'properties'), description: (s as Document).description }));
    return whenType(isDocument, (v) => {
      const failed = props.flatMap(({ name, check, description }) => {
        const value = (v as Document)[name];
        if (value === undefined) return [];
        const details = check(value);
        return details.length === 0 ? [] : [{ propertyName: name, ...(typeof description === 'string' ? { description } : {}), details }];
      });
      return failed.length === 0 ? [] : [{ operatorName: 'properties', propertiesNotSatisfied: failed }];
    });
  },
  patternProperties: (spec) => {
    if (!isDocument(spec)) throw failParse("$jsonSchema keyword 'patternProperties' must be an object");
    const patterns = Object.entries(spec).map(([p, s]) => ({ re: new RegExp(p, 'u'), check: subschema(s, 'patternProperties') }));
    return whenType(isDocument, (v) => {
      const failed = Object.entries(v as Document).flatMap(([name, value]) => patterns.filter((p) => p.re.test(name))
        .flatMap((p) => {
          const details = p.check(value);
          return details.length === 0 ? [] : [{ propertyName: name, details }];
        }));
      return failed.length === 0 ? [] : [{ operatorName: 'patternProperties', propertiesNotSatisfied: failed }];
    });
  },
  additionalProperties: (spec, schema) => {
    const named = new Set(Object.keys(isDocument(schema.properties) ? schema.properties : {}));
    const patterns = Object.keys(isDocument(schema.patternProperties) ? schema.patternProperties : {}).map((p) => new RegExp(p, 'u'));
    const additional = (v: Document) => Object.keys(v).filter((k) => !named.has(k) && !patterns.some((re) => re.test(k)));
    if (typeof spec === 'boolean') {
      if (spec) return undefined;
      return whenType(isDocument, (v) => {
        const extra = additional(v as Document);
        return extra.length === 0 ? [] : [{ operatorName: 'additionalProperties', specifiedAs: { additionalProperties: false }, additionalProperties: extra }];
      });
    }
    const check = subschema(spec, 'additionalProperties');
    return whenType(isDocument, (v) => {
      const failed = additional(v as Document).flatMap((name) => {
        const details = check((v as Document)[name]);
        return details.length === 0 ? [] : [{ propertyName: name, details }];
      });
      return failed.length === 0 ? [] : [{ operatorName: 'additionalProperties', propertiesNotSatisfied: failed }];
    });
  },
  dependencies: (spec) => {
    if (!isDocument(spec)) throw failParse("$jsonSchema keyword 'dependencies' must be an object");
    const deps = Object.entries(spec).map(([name, dep]) => ({ name, dep, check: Array.isArray(dep) ? undefined : subschema(dep, 'dependencies') }));
    return whenType(isDocument, (v) => {
      const doc = v as Document;
      const failing = deps.filter(({ name }) => doc[name] !== undefined).flatMap(({ name, dep, check }): Document[] => {
        if (check) {
          const details = check(doc);
          return details.length === 0 ? [] : [{ conditionalProperty: name, details }];
        }
        const missing = (dep as string[]).filter((p) => doc[p] === undefined);
        return missing.length === 0 ? [] : [{ conditionalProperty: name, missingProperties: missing }];
      });
      return failing.length === 0 ? [] : [{ operatorName: 'dependencies', failingDependencies: failing }];
    });
  },
  items: (spec, schema) => {
    if (Array.isArray(spec)) {
      const checks = spec.map((s) => subschema(s, 'items'));
      const extra = schema.additionalItems;
      const extraCheck = isDocument(extra) ? compile(extra) : undefined;
      return whenType(isArray, (v) => {
        const items = v as unknown[];
        for (let i = 0; i < items.length; i++) {
          if (i < checks.length) {
            const details = checks[i](items[i]);
            if (details.length > 0) return [{ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details }];
          } else if (extra === false) {
            return [{ operatorName: 'additionalItems', specifiedAs: { additionalItems: false }, reason: 'found additional items', additionalItems: items.slice(checks.length) }];
          } else if (extraCheck) {
            const details = extraCheck(items[i]);
            if (details.length > 0) return [{ operatorName: 'additionalItems', reason: 'At least one item did not match the sub-schema', itemIndex: i, details }];
          }
        }
        return [];
      });
    }
    const check = subschema(spec, 'items');
    return whenType(isArray, (v) => {
      const items = v as unknown[];
      for (let i = 0; i < items.length; i++) {
        const details = check(items[i]);
        if (details.length > 0) return [{ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details }];
      }
      return [];
    });
  },
  additionalItems: () => undefined,
  uniqueItems: (spec) => {
    if (spec !== true) return undefined;
    return whenType(isArray, (v) => {
      const sorted = [...(v as unknown[])].sort(compareValues);
      const at = sorted.findIndex((e, i) => i > 0 && valuesEqual(sorted[i - 1], e));
      return at < 0 ? [] : [{ operatorName: 'uniqueItems', specifiedAs: { uniqueItems: true }, reason: 'found a duplicate item', consideredValue: v, duplicatedValue: sorted[at] }];
    });
  },
  allOf: (spec) => {
    const checks = list(spec, 'allOf');
    return (v) => {
      const failed = checks.flatMap((c, index) => {
        const details = c(v);
        return details.length === 0 ? [] : [{ index, details }];
      });
      return failed.length === 0 ? [] : [{ operatorName: 'allOf', schemasNotSatisfied: failed }];
    };
  },
  anyOf: (spec) => {
    const checks = list(spec, 'anyOf');
    return (v) => {
      const results = checks.map((c) => c(v));
      if (results.some((r) => r.length === 0)) return [];
      return [{ operatorName: 'anyOf', schemasNotSatisfied: results.map((details, index) => ({ index, details })) }];
    };
  },
  oneOf: (spec) => {
    const checks = list(spec, 'oneOf');
    return (v) => {
      const results = checks.map((c) => c(v));
      const matched = results.filter((r) => r.length === 0).length;
      if (matched === 1) return [];
      if (matched > 1) return [{ operatorName: 'oneOf', specifiedAs: { oneOf: spec }, reason: 'more than one subschema matched' }];
      return [{ operatorName: 'oneOf', schemasNotSatisfied: results.map((details, index) => ({ index, details })) }];
    };
  },
  not: (spec) => {
    const check = subschema(spec, 'not');
    return (v) => (check(v).length === 0 ? [{ operatorName: 'not', specifiedAs: { not: spec }, reason: 'child expression matched' }] : []);
  },
  title: (spec) => {
    if (typeof spec !== 'string') throw failParse("$jsonSchema keyword 'title' must be a string");
    return undefined;
  },
  description: (spec) => {
    if (typeof spec !== 'string') throw failParse("$jsonSchema keyword 'description' must be a string");
    return undefined;
  },
};

function typeRule(keyword: string, spec: unknown, allowed: Set<string>, namesOf: (v: unknown) => string[]): Check {
  const wanted = Array.isArray(spec) ? spec : [spec];
  for (const t of wanted) {
    if (typeof t !== 'string') throw new CommandError('TypeMismatch', `$jsonSchema keyword '${keyword}' must be either a string or an array of strings`);
    if (t === 'integer' && keyword === 'type') throw failParse("$jsonSchema type 'integer' is not currently supported.");
    if (!allowed.has(t)) throw new CommandError('BadValue', `Unknown type name alias: ${t}`);
  }
  return (v) => (namesOf(v).some((n) => wanted.includes(n))
    ? []
    : [failure(keyword, { [keyword]: spec }, { reason: 'type did not match', consideredValue: v, consideredType: bsonTypeName(v) })]);
}

function bound(keyword: string, spec: unknown, exclusive: boolean, ok: (order: number, exclusive: boolean) => boolean): Check {
  if (!isNumber(spec)) throw failParse(`$jsonSchema keyword '${keyword}' must be a number`);
  return whenType(isNumber, (v) => (ok(compareNumbers(v, spec), exclusive)
    ? []
    : [failure(keyword, { [keyword]: spec, ...(exclusive ? { [keyword === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum']: true } : {}) }, considered(v, 'comparison failed'))]));
}

function length(keyword: string, spec: unknown, applies: (v: unknown) => boolean, measure: (v: unknown) => number, ok: (n: number, limit: number) => boolean, reason: string): Check {
  if (!isNumber(spec) || !Number.isInteger(toJsNumber(spec)) || toJsNumber(spec) < 0) {
    throw failParse(`$jsonSchema keyword '${keyword}' must be a representable as a long and non-negative`);
  }
  const limit = toJsNumber(spec);
  return whenType(applies, (v) => (ok(measure(v), limit) ? [] : [failure(keyword, { [keyword]: spec }, considered(v, reason))]));
}
