// The record workload of the JS benchmarks (bench/js_bench.mjs, bench/relay_bench.mjs): seeded documents
// {id, title, done, priority, tags}, the same in every script that imports this. Same shape, word lists
// and distributions as bench/core_bench.cpp's, but not the same documents (that one draws from splitmix64).
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const VERBS = ['Fix', 'Review', 'Update', 'Write', 'Test', 'Ship', 'Plan', 'Draft', 'Check', 'Clean', 'Move', 'Add', 'Drop', 'Tune', 'Audit', 'Merge', 'Port', 'Debug', 'Mock', 'Sort', 'Log', 'Sync', 'File', 'Book'];
const ADJ = ['flaky', 'slow', 'broken', 'new', 'old', 'shared', 'mobile', 'legacy', 'weekly', 'public', 'draft', 'stale', 'empty', 'admin', 'guest', 'dark', 'main', 'team', 'local', 'remote', 'paid', 'free', 'beta', 'daily', 'global', 'last', 'next', 'small', 'large', 'raw', 'async', 'retry'];
const NOUNS = ['login', 'checkout', 'search', 'billing', 'profile', 'sync', 'export', 'import', 'upload', 'invoice', 'payment', 'signup', 'sidebar', 'header', 'footer', 'cache', 'queue', 'report', 'email', 'avatar', 'order', 'cart', 'refund', 'coupon', 'tax', 'audit', 'backup', 'theme', 'font', 'icon', 'menu', 'modal', 'table', 'chart', 'filter', 'widget', 'token', 'session', 'cookie', 'webhook'];
const KINDS = ['test', 'page', 'form', 'flow', 'bug', 'docs', 'copy', 'query', 'index', 'job', 'view', 'list', 'error', 'style', 'API', 'link', 'label', 'field', 'badge', 'button', 'banner', 'layout', 'script', 'check'];
const NUMBERED = ['invoice', 'ticket', 'order', 'PR', 'issue', 'contract', 'report', 'batch', 'quote', 'refund', 'survey', 'release'];
const TAGS = ['bug', 'feature', 'urgent', 'backend', 'frontend', 'design', 'docs', 'ops', 'billing', 'mobile', 'research', 'chore'];

/** n documents of the workload, from the seed (20240611 in every benchmark). */
export function workloadDocs(n, seed = 20240611) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const docs = [];
  for (let i = 0; i < n; i++) {
    const title = r() < 0.6
      ? `${pick(VERBS)} ${pick(ADJ)} ${pick(NOUNS)} ${pick(KINDS)}`
      : `${pick(VERBS)} ${pick(NUMBERED)} ${1000 + Math.floor(r() * 9000)}`;
    docs.push({ id: `doc${String(i + 1).padStart(6, '0')}`, title, done: r() < 0.3, priority: Math.floor(r() * 5), tags: [pick(TAGS), pick(TAGS)] });
  }
  return docs;
}
