// syncore: offline-first sync of JSON document collections. See README.md and index.d.ts.
export { openStore } from './store.mjs';
export { SyncoreError } from './errors.mjs';
