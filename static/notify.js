/* Web Push opt-in (templates/notify/optin.html): shown only where the browser can receive push (an
   installed PWA, a real browser; never the captive sign-in sheet). Subscribes with the portal's VAPID key
   and hands the subscription to the portal with the shopper's token as a bearer token. */
(function () {
  "use strict";
  var button = document.getElementById("notify-push");
  if (!button || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  button.hidden = false;

  function serverKey(b64) {
    var padded = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); });
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("not granted");
      return navigator.serviceWorker.register("/sw.js");
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.getSubscription().then(function (existing) {
        return existing || registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: serverKey(button.dataset.key)});
      });
    }).then(function (subscription) {
      return fetch(button.dataset.url, {
        method: "POST", credentials: "omit",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "Authorization": "Bearer " + button.dataset.token},
        body: JSON.stringify({subscription: subscription.toJSON(), lang: button.dataset.lang})});
    }).then(function (response) {
      if (!response.ok) throw new Error("refused");
      button.textContent = button.dataset.done;
    }).catch(function () {  // permission refused, no push service, the portal said no: say so, not nothing
      button.disabled = false;
      var failed = document.getElementById("notify-push-failed");
      if (failed) failed.hidden = false;
    });
  });
})();
