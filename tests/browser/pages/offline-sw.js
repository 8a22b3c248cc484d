// Service worker of offline-app.html: the app shell (this page, the package's modules, the wasm) is
// served network-first and kept in a cache, so the page loads again, and imports the package, while the
// browser is offline (tests/browser/relay.test.mjs reloads a page offline). The response says where it
// came from in the `x-syncore-sw` header ('network' or 'cache').
const CACHE = 'syncore-test-shell';

self.addEventListener('install', (event) => {
  // the page's own first load was not controlled yet: cache it now
  event.waitUntil(caches.open(CACHE).then((c) => c.add('./offline-app.html')).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

function tagged(response, source) {
  const headers = new Headers(response.headers);
  headers.set('x-syncore-sw', source);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok) await cache.put(req, res.clone());
      return tagged(res, 'network');
    } catch (err) {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return tagged(hit, 'cache');
      throw err;
    }
  })());
});
