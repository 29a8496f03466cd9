/* Operator console, progressive enhancement only: every page works without this file.
   On the floor plan (<input type=image id=plan>), data-mode="points" collects clicks as "x,y" metres
   into a text field (zone corners); data-mode="pair" fills x1,y1 then x2,y2 in plan pixels (scale).
   Without a mode a click submits the form, marked as a pointer's (#plan-pointer, mapedit.plan_click).
   Enter or Space on the plan would submit it at (0, 0), the plan's corner: it moves to the x field instead.
   Without JavaScript the same clicks go to the server as plan-pixel coordinates. */
(function () {
  "use strict";
  var plan = document.getElementById("plan");
  if (!plan) return;
  var mode = plan.dataset.mode;
  var pointer = document.getElementById("plan-pointer");
  if (pointer) pointer.value = ""; // a page restored from the back-forward cache keeps the last click's mark
  var mpp = parseFloat(plan.dataset.mPerPx) || 0.2;
  var ids = (plan.dataset.target || "").split(",");
  var fields = ids.map(function (id) { return document.getElementById(id); });
  var preview = document.getElementById("plan-preview");
  var NS = "http://www.w3.org/2000/svg";

  function at(event) {
    var box = plan.getBoundingClientRect();
    var kx = parseFloat(plan.getAttribute("width")) / box.width;
    var ky = parseFloat(plan.getAttribute("height")) / box.height;
    return [Math.round((event.clientX - box.left) * kx), Math.round((event.clientY - box.top) * ky)];
  }

  function shape(name, attrs) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    preview.appendChild(el);
  }

  function pointsPx() {
    if (mode === "points") {
      return (fields[0].value || "").trim().split(/[\s;]+/).map(function (t) {
        var p = t.split(",");
        return [parseFloat(p[0]) / mpp, parseFloat(p[1]) / mpp];
      }).filter(function (p) { return isFinite(p[0]) && isFinite(p[1]); });
    }
    var out = [];
    for (var i = 0; i + 1 < fields.length; i += 2) {
      var x = parseFloat(fields[i].value), y = parseFloat(fields[i + 1].value);
      if (isFinite(x) && isFinite(y)) out.push([x, y]);
    }
    return out;
  }

  function draw() {
    while (preview.firstChild) preview.removeChild(preview.firstChild);
    var pts = pointsPx();
    if (pts.length > 1) {
      shape(mode === "points" && pts.length > 2 ? "polygon" : "polyline", {
        points: pts.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "),
        fill: mode === "points" ? "rgba(11,87,208,.2)" : "none", stroke: "#0b57d0", "stroke-width": 2
      });
    }
    pts.forEach(function (p) { shape("circle", { cx: p[0], cy: p[1], r: 4, fill: "#0b57d0", stroke: "#fff" }); });
  }

  function typedField() {
    return fields[0] || (plan.form && plan.form.elements.namedItem("x"));
  }

  plan.addEventListener("click", function (event) {
    if (event.detail === 0) { // Enter or Space: no place on the plan was chosen
      event.preventDefault();
      var field = typedField();
      if (field) field.focus();
      return;
    }
    if (!mode) {
      if (pointer) pointer.value = "1";
      return;
    }
    event.preventDefault();
    var p = at(event);
    if (mode === "points") {
      var text = (fields[0].value || "").trim();
      fields[0].value = (text ? text + " " : "") + (p[0] * mpp).toFixed(2) + "," + (p[1] * mpp).toFixed(2);
    } else {
      var second = fields[0].value !== "" && fields[2].value === "";
      var k = second ? 2 : 0;
      if (!second) { fields[2].value = ""; fields[3].value = ""; }
      fields[k].value = p[0];
      fields[k + 1].value = p[1];
    }
    draw();
  });
  if (!mode) return;
  fields.forEach(function (f) { if (f) f.addEventListener("input", draw); });
  draw();
})();
