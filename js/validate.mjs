// Argument checks and JSON text for the core. JSON.stringify alone would drop functions and undefined,
// turn NaN into null and a Map into {}: every value is walked first, and an error names the path of the
// first thing that is not JSON. Nothing reaches the core (so nothing is written) when a check fails.
import { typeError, rangeError } from './errors.mjs';

export const MAX_DEPTH = 64; // wasm/include/syncore/value.hpp kMaxValueDepth

const wellFormed = typeof String.prototype.isWellFormed === 'function'
  ? (s) => s.isWellFormed()
  : (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const ctor = Object.getPrototypeOf(v)?.constructor?.name;
    return ctor && ctor !== 'Object' ? `${/^[AEIO]/.test(ctor) ? 'an' : 'a'} ${ctor}` : 'an object';
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`;
}

function keyPath(path, key) {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

// The path of the value being checked is kept as a stack of keys and only turned into text for an
// error: a valid document allocates nothing here (bulk inserts check every value).
const trail = [];
function pathOf(root) {
  let p = root;
  for (const k of trail) p = typeof k === 'number' ? `${p}[${k}]` : keyPath(p, k);
  return p;
}

function fail(make, root, message) {
  const p = pathOf(root);
  trail.length = 0;
  throw make(`${p} ${message}`);
}

function check(v, root, depth) {
  switch (typeof v) {
    case 'string':
      if (!wellFormed(v)) fail(typeError, root, 'is a string with a lone surrogate (not valid Unicode)');
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) fail(typeError, root, `is ${v}: only finite numbers are JSON`);
      return;
    case 'object':
      if (v === null) return;
      if (depth >= MAX_DEPTH) fail(rangeError, root, `nests deeper than ${MAX_DEPTH} levels (or refers to itself)`);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          trail.push(i);
          if (!(i in v)) fail(typeError, root, 'is a hole in a sparse array (not JSON)');
          check(v[i], root, depth + 1);
          trail.pop();
        }
        return;
      }
      {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          fail(typeError, root, `is ${describe(v)}, not a plain object: store plain JSON` +
            (v instanceof Date ? ' (for a date, date.toISOString() or date.getTime())' : ''));
        }
        for (const k in v) {
          if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
          trail.push(k);
          if (!wellFormed(k)) fail(typeError, root, 'is a key with a lone surrogate (not valid Unicode)');
          check(v[k], root, depth + 1);
          trail.pop();
        }
      }
      return;
    default:
      fail(typeError, root, `is ${describe(v)}, which is not a JSON value`);
  }
}

/** JSON text of any JSON value, or a TypeError/RangeError naming the first bad path. */
export function jsonText(v, path) {
  trail.length = 0;
  check(v, path, 0);
  return JSON.stringify(v);
}

export function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function checkId(id, what = 'document id') {
  if (typeof id !== 'string' || id.length === 0) {
    throw typeError(`${what} must be a non-empty string, got ${describe(id)}${typeof id === 'string' ? ' (empty)' : ''}`);
  }
  if (!wellFormed(id)) throw typeError(`${what} has a lone surrogate (not valid Unicode)`);
}

/** A document: a plain object with a string `id`. Returns its JSON text. */
export function documentText(doc, collection) {
  if (!isPlainObject(doc)) {
    throw typeError(`${collection}.put: the document must be a plain object, got ${describe(doc)}`);
  }
  if (!('id' in doc) || doc.id === undefined) throw typeError(`${collection}.put: the document has no 'id'`);
  checkId(doc.id, `${collection}.put: the document's id`);
  return jsonText(doc, 'document');
}

export function fieldsText(fields, collection) {
  if (!isPlainObject(fields)) {
    throw typeError(`${collection}.update: fields must be a plain object, got ${describe(fields)}`);
  }
  if ('id' in fields) throw typeError(`${collection}.update: 'id' cannot be changed`);
  return jsonText(fields, 'fields');
}

export function checkName(name, what) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw typeError(`${what} must be a non-empty string of at most 200 characters, got ${describe(name)}`);
  }
  if (!wellFormed(name)) throw typeError(`${what} has a lone surrogate (not valid Unicode)`);
}

export function checkFunction(fn, what) {
  if (typeof fn !== 'function') throw typeError(`${what} must be a function, got ${describe(fn)}`);
}

export function checkNumber(n, what) {
  if (typeof n !== 'number') throw typeError(`${what} must be a number, got ${describe(n)}`);
  if (!Number.isFinite(n)) throw rangeError(`${what} must be a finite number, got ${n}`);
}

export { describe };
