// The demo's service worker: it keeps the app shell (the page, its modules, the syncore package and its
// WebAssembly module) so the board opens, reloads included, with no network. Network first, so a new
// version is picked up at once when online; the cache answers when the network does not (or is too
// slow). The API (/api/) is never cached: tokens and config are always fresh or absent.
const CACHE = 'syncore-demo-shell-v1';
const SHELL = [
  './',
  './index.html',
  './app.mjs',
  './board.mjs',
  './panels.mjs',
  './state.mjs',
  './ui.mjs',
  './style.css',
  './manifest.webmanifest',
  './icon.svg',
  // the package as the browser loads it: js/index.mjs and every module it imports, and the core
  '/pkg/js/index.mjs',
  '/pkg/js/store.mjs',
  '/pkg/js/errors.mjs',
  '/pkg/js/core.mjs',
  '/pkg/js/persistence.mjs',
  '/pkg/js/sync.mjs',
  '/pkg/js/http-transport.mjs',
  '/pkg/js/protocol.mjs',
  '/pkg/js/tabs.mjs',
  '/pkg/js/validate.mjs',
  '/pkg/dist/syncore-core.mjs',
  '/pkg/dist/syncore-core.wasm',
];
const NETWORK_TIMEOUT_MS = 4000; // a network that neither answers nor fails ("lie-fi") falls back to the cache

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('syncore-demo-shell-') && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

// the page sends what it loaded; whatever the cache lacks is fetched and kept (answered when done)
self.addEventListener('message', (event) => {
  if (event.data?.t !== 'keep' || !Array.isArray(event.data.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(event.data.urls.map(async (url) => {
      const u = new URL(url, self.location.href);
      if (u.origin !== self.location.origin || u.pathname.startsWith('/api/') || (await cache.match(u.href, { ignoreSearch: true }))) return;
      await cache.add(u.href).catch(() => {});
    }));
    event.ports[0]?.postMessage('kept');
  })());
});

async function fromNetwork(request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    return await fetch(request, { signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fromNetwork(request);
    if (res.ok && res.type === 'basic') await cache.put(cacheKey, res.clone());
    return res;
  } catch (err) {
    const hit = await cache.match(cacheKey, { ignoreSearch: true });
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  // every navigation is the app's one page (a board is chosen by the #hash, which never reaches here)
  const key = req.mode === 'navigate' ? new URL('./', self.location.href).href : req;
  event.respondWith(networkFirst(req, key));
});
