// Sync protocol frames (docs/PROTOCOL.md), encoded and decoded by the core (wasm/src/protocol.cpp through
// bindings/syncore_bindings.cpp), so no JavaScript parses a frame by hand. A frame is a plain object:
//   {t: 'hello', v, site, schema, have, collections, token}   site: 32 hex digits; have: {collection: {site: seq}}
//   {t: 'changes', batch, data}                               data: a change set (Uint8Array)
//   {t: 'ack', batch}    {t: 'end', have}    {t: 'presence', site, state}
//   {t: 'error', code, message, fatal, batch}                 batch 0: none
// On encode, v defaults to PROTOCOL_VERSION, schema/batch to 0, collections to [], token to '', fatal to
// false; decode always fills them in. Every function takes the core module from loadCore() (js/core.mjs).
import { coreError, typeError } from './errors.mjs';

/** The protocol version this package speaks (the core's kProtocolVersion). */
export const PROTOCOL_VERSION = 1;

function check(m, r) {
  if (r === null) throw coreError(JSON.parse(m.lastError()));
  return r;
}

function checkBytes(bytes, what) {
  if (!(bytes instanceof Uint8Array)) {
    throw typeError(`${what}: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
}

/** The frame's bytes. Throws a TypeError naming a missing or mistyped field. */
export function encodeFrame(m, msg) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw typeError('encodeFrame: the frame must be an object {t, ...}');
  const { data, ...header } = msg;
  if (msg.t === 'changes') checkBytes(data, "encodeFrame: frame 'changes' data");
  else if (data !== undefined) throw typeError(`encodeFrame: frame '${msg.t}' carries no data`);
  return check(m, m.encodeFrame(JSON.stringify(header), data ?? ''));
}

/** The frame in `bytes` as an object (with `data` for changes). Throws a SyncoreError (code DECODE) naming
 *  the problem for anything that is not a well-formed frame of a known type. */
export function decodeFrame(m, bytes) {
  checkBytes(bytes, 'decodeFrame');
  const r = check(m, m.decodeFrame(bytes));
  const msg = JSON.parse(r.json);
  if (r.data !== undefined) msg.data = r.data;
  return msg;
}

/** Throws a SyncoreError (code CLOCK_SKEW) if a row of the change set is stamped more than maxSkewMs after
 *  nowMs (or DECODE if the bytes are not a change set). */
export function checkClockSkew(m, bytes, nowMs, maxSkewMs) {
  checkBytes(bytes, 'checkClockSkew');
  if (typeof nowMs !== 'number' || typeof maxSkewMs !== 'number') throw typeError('checkClockSkew: nowMs and maxSkewMs must be numbers (ms)');
  check(m, m.checkClockSkew(bytes, nowMs, maxSkewMs));
}

/** {rows, collections: {name: rows}, docs, largestDocBytes, largestDoc} of a change set: its row count in
 *  all and per collection, the number of documents it touches, and the largest document part it carries
 *  (its fields measured as JSON, as a local put measures a document) with its 'collection/id'. */
export function changeSetInfo(m, bytes) {
  checkBytes(bytes, 'changeSetInfo');
  return JSON.parse(check(m, m.changeSetInfo(bytes)));
}
