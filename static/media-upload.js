// An owner's image form (templates/media/_upload.html) sent without leaving the page, so that what the owner has
// typed in the page's other forms and not saved yet stays: the form posts as it would, and from the page the
// server answers with (the console page after the upload, or the same page with the refusal by the form) this
// form, with its new picture or its error, the page's message and its recent changes take their places. A browser
// that cannot say which button sent a form (Safari before 15.4) posts it as a plain form, the page reloading as
// before. Loaded as a module: once per page however many image forms it has.

const FORMS = "form.media-upload";

function placeOf(form) {
  return ["kind", "ref"].map((name) => form.elements.namedItem(name)?.value ?? "").join("\n");
}

function sameForm(doc, form) {
  const place = placeOf(form);
  return [...doc.querySelectorAll(FORMS)].find((other) => placeOf(other) === place) ?? null;
}

// One polite live region, on the page before any answer, that the answers' messages (saved, removed) are put in:
// a region inserted with its text already in it is not reliably read out.
function newsRegion() {
  let region = document.getElementById("media-news");
  if (!region) {
    region = document.createElement("div");
    region.id = "media-news";
    region.setAttribute("role", "status");
    document.querySelector("main")?.before(region);
  }
  return region;
}

function showMessages(doc) {
  document.querySelectorAll("p.flash").forEach((old) => old.remove());
  const messages = [...doc.querySelectorAll("p.flash")].map((message) => {
    const copy = document.importNode(message, true);
    copy.removeAttribute("role");  // the region speaks for it
    return copy;
  });
  newsRegion().replaceChildren(...messages);
}

// What else the upload changed on the page: the zone's recent changes (the page's last section, there from the
// first change on), the preview of the shopper's page.
function refreshAround(doc) {
  const changes = doc.getElementById("history")?.closest("section");
  if (changes) {
    const copy = document.importNode(changes, true);
    const shown = document.getElementById("history")?.closest("section");
    if (shown) shown.replaceWith(copy);
    else document.querySelector("main")?.append(copy);
  }
  const preview = document.getElementById("preview");
  if (preview?.src) preview.src = preview.src;
}

// A note by the form: an error page's message (the image space full, the form's token expired), else the form's
// own "not sent" text (no answer: the connection failed, or a file far over the limit was cut off).
function noteBy(form, text) {
  form.querySelector("p.error")?.remove();
  const note = document.createElement("p");
  note.className = "error";
  note.setAttribute("role", "alert");
  note.tabIndex = -1;
  note.textContent = text;
  form.querySelector("button")?.before(note);
  note.focus();
}

function ready(form, busy) {
  if (busy) form.setAttribute("aria-busy", "true");
  else form.removeAttribute("aria-busy");
  form.querySelectorAll("button").forEach((button) => { button.disabled = busy; });
}

async function send(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches(FORMS)) return;
  event.preventDefault();
  const body = new FormData(form);
  if (event.submitter?.name) body.append(event.submitter.name, event.submitter.value);
  const removing = event.submitter?.name === "remove";
  ready(form, true);
  let answer = null;
  let doc = null;
  try {
    answer = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
    doc = new DOMParser().parseFromString(await answer.text(), "text/html");
  } catch {
    // no answer: nothing is sent again (a retry is the owner's)
  }
  const fresh = doc && sameForm(doc, form);
  if (fresh) {
    showMessages(doc);
    refreshAround(doc);
    const placed = document.importNode(fresh, true);
    form.replaceWith(placed);
    const error = placed.querySelector("p.error");
    if (error) error.tabIndex = -1;
    (error ?? placed.querySelector(removing ? "button[name=remove]" : "input[type=file]"))?.focus();
    return;
  }
  if (answer?.redirected) {
    // a page without this form (the sign-in page after the session ended, the zone's app changed): go there
    window.location.assign(answer.url);
    return;
  }
  ready(form, false);
  noteBy(form, doc?.getElementById("error-message")?.textContent?.trim() || form.dataset.unsent);
}

if (window.fetch && window.DOMParser && typeof SubmitEvent === "function" && "submitter" in SubmitEvent.prototype) {
  document.addEventListener("submit", send);
}
