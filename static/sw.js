/* MallPortal service worker (scope /): caches the app shell, shows an offline page when a page
   cannot load. Pages themselves are never cached: they carry the shopper's token and live data
   (queue numbers, seat holds). Registered from the mall home, and by notify.js when a shopper turns on
   notifications; shows their Web Push messages. */
// v2: the icons left the install list (the 512 px one alone was 34 kB on the mall WiFi); activate drops v1.
// A change to this file reinstalls the worker, which fetches the shell again: so the installed copy of the offline
// page is no longer one shopper's, with a "Try again" to "/" (the default mall) (portal/owner/pwa.py offline).
const CACHE = "mallportal-shell-v2";
// What the offline page needs, nothing more: the browser fetches the manifest and its icons itself.
const SHELL = [
  "/pwa/offline",
  "/static/portal.css",
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
    // Pages link static files by content (?v=<hash>, portal/static_files.py), immutable in the HTTP cache: the
    // network path costs nothing once fetched and is never stale. This cache is the offline copy, one per file
    // (keyed without the version, so no old one piles up), and answers only when the network cannot.
    event.respondWith(
      fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)));
        }
        return response;
      }).catch(() => caches.match(url.pathname).then((cached) => cached || Response.error()))
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
