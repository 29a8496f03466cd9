/* A scratch card over a result the server has already drawn (lightapps/games): the result is in the page,
   inside <details class="result" id="scratch" data-scratch-label=".." data-scratch-hint=".."><summary>..</summary>
   ..result..</details>. Without JavaScript the <details> is the card: tap (or Enter on) the summary to reveal.
   With it, the result is covered by a silver canvas that a finger or the mouse scratches away (pointer events,
   erasing along the stroke); once enough is scratched the rest falls away. The summary stays the keyboard and
   screen-reader way to reveal at once. Nothing here decides anything: the draw was made on the server. */
(function () {
  "use strict";
  var card = document.getElementById("scratch");
  if (!card || card.tagName !== "DETAILS") return;
  var canvas = document.createElement("canvas");
  if (!canvas.getContext) return;
  var REVEAL_AT = 0.5; // share of the coating scratched off before the rest falls away
  var BRUSH = 18; // brush radius in CSS pixels: a fingertip

  var summary = card.querySelector("summary");
  var area = document.createElement("div");
  area.className = "scratch-area";
  while (summary.nextSibling) area.appendChild(summary.nextSibling);
  card.appendChild(area);
  card.open = true;
  card.classList.add("scratching");
  area.setAttribute("aria-hidden", "true"); // read out once revealed, not under the coating
  canvas.className = "scratch-coat";
  canvas.setAttribute("aria-hidden", "true");
  area.appendChild(canvas);

  var ratio = window.devicePixelRatio || 1;
  var width = Math.max(area.clientWidth, 200);
  var height = Math.max(area.scrollHeight, 96);
  area.style.minHeight = height + "px";
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  var ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.fillStyle = "#9aa3ad";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#fff";
  ctx.font = "bold 18px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(card.getAttribute("data-scratch-label") || "", width / 2, height / 2);
  ctx.globalCompositeOperation = "destination-out";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = BRUSH * 2;

  var revealed = false;
  var last = null;

  function reveal() {
    if (revealed) return;
    revealed = true;
    card.classList.remove("scratching");
    card.classList.add("revealed");
    area.removeAttribute("aria-hidden");
    canvas.remove();
    card.open = true;
  }

  function scratchedShare() {
    var data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var clear = 0, seen = 0;
    for (var i = 3; i < data.length; i += 4 * 16) { // every 16th pixel's alpha
      seen++;
      if (data[i] === 0) clear++;
    }
    return seen ? clear / seen : 1;
  }

  function point(event) {
    var box = canvas.getBoundingClientRect(); // the card may have been resized (rotated phone) since it was coated
    return { x: (event.clientX - box.left) * width / box.width, y: (event.clientY - box.top) * height / box.height };
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    if (canvas.setPointerCapture) canvas.setPointerCapture(event.pointerId);
    last = point(event);
    ctx.beginPath();
    ctx.arc(last.x, last.y, BRUSH, 0, Math.PI * 2);
    ctx.fill();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!last) return;
    var here = point(event);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(here.x, here.y);
    ctx.stroke();
    last = here;
  });
  function lift() {
    if (!last) return;
    last = null;
    if (scratchedShare() >= REVEAL_AT) reveal();
  }
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);

  // The summary (a tap, Enter or Space) reveals at once instead of folding the card shut.
  summary.addEventListener("click", function (event) {
    event.preventDefault();
    reveal();
  });
})();
