/* Scan a QR code with the phone's camera into a form field, then submit the form (the coupon console's
   redeem form). Progressive: without JavaScript or a camera the button stays hidden and the code is typed.
   The browser's own BarcodeDetector where it has one (Chrome on Android), else the vendored html5-qrcode
   (static/vendor/html5-qrcode, pinned), loaded only then. Markup:
   <div data-scan-into="code" data-lib="/static/vendor/html5-qrcode/html5-qrcode.min.js" hidden>
     <button type="button" data-scan-start>..</button> <div id="scan-view"></div> <p data-scan-error hidden></p>
   </div> */
(function () {
  "use strict";
  var box = document.querySelector("[data-scan-into]");
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  var field = document.getElementById(box.getAttribute("data-scan-into"));
  var view = box.querySelector("#scan-view");
  var errorLine = box.querySelector("[data-scan-error]");
  var button = box.querySelector("[data-scan-start]");
  if (!field || !view || !button) return;
  box.hidden = false;

  function found(text) {
    field.value = text;
    if (field.form) field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
  }
  function failed() {
    errorLine.hidden = false;
    view.replaceChildren();
  }

  function withDetector() {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    view.appendChild(video);
    return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      return video.play().then(function () {
        function tick() {
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              stream.getTracks().forEach(function (t) { t.stop(); });
              found(codes[0].rawValue);
            } else {
              window.requestAnimationFrame(tick);
            }
          }, failed);
        }
        tick();
      });
    });
  }

  function withLibrary() {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = box.getAttribute("data-lib");
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    }).then(function () {
      var scanner = new window.__Html5QrcodeLibrary__.Html5Qrcode("scan-view");
      return scanner.start({ facingMode: "environment" }, { fps: 10, qrbox: 240 }, function (text) {
        scanner.stop().then(function () { found(text); }, function () { found(text); });
      });
    });
  }

  button.addEventListener("click", function () {
    errorLine.hidden = true;
    button.disabled = true;
    var start = ("BarcodeDetector" in window)
      ? window.BarcodeDetector.getSupportedFormats().then(function (formats) {
          return formats.indexOf("qr_code") >= 0 ? withDetector() : withLibrary();
        })
      : withLibrary();
    start.catch(function () { failed(); button.disabled = false; });
  });
})();
