// Errors the package throws. Core failures arrive as {code, message} (bindings/syncore_bindings.cpp) and
// become a TypeError (bad argument), a RangeError (a number or size out of range, a limit) or a
// SyncoreError carrying the core's code. Codes mirror wasm/include/syncore/error.hpp.

/** An error from the syncore core or the package; `code` names the kind (e.g. 'NOT_FOUND', 'STORAGE'). */
export class SyncoreError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SyncoreError';
    this.code = code;
  }
}

/** Maps a core error to the JS error class a caller expects. */
export function coreError({ code, message }) {
  let err;
  if (code === 'INVALID_ARGUMENT') err = new TypeError(message);
  else if (code === 'OUT_OF_RANGE' || code === 'LIMIT_EXCEEDED') err = new RangeError(message);
  else return new SyncoreError(code || 'INTERNAL', message || 'unknown error in the syncore core');
  err.code = code;
  return err;
}

export function typeError(message) {
  const err = new TypeError(message);
  err.code = 'INVALID_ARGUMENT';
  return err;
}

export function rangeError(message) {
  const err = new RangeError(message);
  err.code = 'OUT_OF_RANGE';
  return err;
}
