// The published site's service worker (scripts/dist.mjs writes it to dist/sw.js, after the two
// constants it uses: VERSION, a hash of every file, and FILES, their paths relative to it).
//
// - Offline: installing it stores every file of the site in the cache of this version; from
//   then on each request is answered from that cache first, so the lesson opens and trains with
//   the network off. A new version installs beside the old one and, once it takes over, deletes
//   the old cache.
// - Cross-origin isolation: every response it gives gets the COOP/COEP headers that shared memory
//   (kiln's threads) needs, which static hosts such as GitHub Pages cannot send themselves.
/* global VERSION, FILES */

const CACHE = `kiln-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // `cache: 'reload'` skips the HTTP cache, so no file of an older version slips in.
    await cache.addAll(FILES.map((path) => new Request(new URL(path, self.registration.scope), { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('kiln-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** The same response with the headers that make its page (or worker) cross-origin isolated. */
function isolated(response) {
  if (response.status === 0) return response; // opaque: its headers cannot be read or changed
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    // A page's settings are in its query (?size=64&autorun=train): the file is the same.
    const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: request.mode === 'navigate' });
    return isolated(cached ?? (await fetch(request)));
  })());
});
