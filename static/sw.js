/* MallPortal service worker (scope /): caches the app shell, shows an offline page when a page
   cannot load. Pages themselves are never cached: they carry the shopper's token and live data
   (queue numbers, seat holds). Registered from the mall home, and by notify.js when a shopper turns on
   notifications; shows their Web Push messages. */
const CACHE = "mallportal-shell-v1";
const SHELL = [
  "/pwa/offline",
  "/static/portal.css",
  "/static/manifest.webmanifest",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("mallportal-") && k !== CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // Network first; the offline page when there is no network.
    event.respondWith(fetch(request).catch(() => caches.match("/pwa/offline")));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // The shell's static files: from the cache, refreshed in the background.
    event.respondWith(
      caches.open(CACHE).then((cache) => cache.match(request).then((cached) => {
        const fresh = fetch(request).then((response) => {
          if (response.ok) cache.put(request, response.clone());
          return response;
        }).catch(() => cached || Response.error());
        return cached || fresh;
      }))
    );
  }
});

// Web Push (portal/notify/webpush.py): show the notification; a tap opens its page (same origin only).
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {title: event.data ? event.data.text() : ""};
  }
  event.waitUntil(self.registration.showNotification(data.title || "MallPortal", {
    body: data.body || "", tag: data.tag, lang: data.lang, icon: "/static/icons/icon-192.png",
    data: {url: data.url || ""},
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (!url) return;
  const target = new URL(url, self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil(self.clients.openWindow(target.href));
});
