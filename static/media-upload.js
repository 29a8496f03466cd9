// An owner's image form (templates/media/_upload.html) sent without leaving the page, so that what the owner has
// typed in the page's other forms and not saved yet stays: the form posts as it would, and from the page the
// server answers with (the console page after the upload, or the same page with the refusal by the form) only this
// form, with its new picture or its error, and the page's message take their places. Without fetch or DOMParser
// the form posts as a plain form and the page reloads, as before. Loaded as a module: once per page however many
// image forms it has.

const FORMS = "form.media-upload";

function placeOf(form) {
  return ["kind", "ref"].map((name) => form.elements.namedItem(name)?.value ?? "").join("\n");
}

function sameForm(doc, form) {
  const place = placeOf(form);
  return [...doc.querySelectorAll(FORMS)].find((other) => placeOf(other) === place) ?? null;
}

// The answer's messages (saved, removed) in place of the page's.
function showMessages(doc) {
  document.querySelectorAll("p.flash").forEach((old) => old.remove());
  const main = document.querySelector("main");
  doc.querySelectorAll("p.flash").forEach((message) => main.before(document.importNode(message, true)));
}

// An error page's message (the image space full, a place gone) beside the form; null where the answer has none.
function refusal(doc, form) {
  const text = doc.querySelector("#error-message")?.textContent?.trim();
  if (!text) return null;
  const note = document.createElement("p");
  note.className = "error";
  note.setAttribute("role", "alert");
  note.textContent = text;
  form.querySelector("p.error")?.remove();
  form.querySelector("button")?.before(note);
  return note;
}

async function send(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches(FORMS) || form.dataset.plain) return;
  event.preventDefault();
  const body = new FormData(form);
  if (event.submitter?.name) body.append(event.submitter.name, event.submitter.value);
  const removing = event.submitter?.name === "remove";
  form.setAttribute("aria-busy", "true");
  form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
  let doc;
  try {
    const answer = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
    doc = new DOMParser().parseFromString(await answer.text(), "text/html");
  } catch {
    doc = null;  // no answer (offline, the connection dropped)
  }
  const fresh = doc && sameForm(doc, form);
  if (doc) showMessages(doc);
  if (fresh) {
    const placed = document.importNode(fresh, true);
    form.replaceWith(placed);
    const error = placed.querySelector("p.error");
    const focus = error ?? placed.querySelector(removing ? "button[name=remove]" : "input[type=file]");
    if (error) error.tabIndex = -1;
    focus?.focus();
    return;
  }
  form.removeAttribute("aria-busy");
  form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
  const note = doc && refusal(doc, form);
  if (note) {
    note.tabIndex = -1;
    note.focus();
    return;
  }
  // An answer that is neither (no answer, the sign-in page after the session ended): the plain post, whose page the
  // browser shows. Re-sending is safe: an image is stored under its place, the same file twice is the same image.
  form.dataset.plain = "1";
  form.requestSubmit(event.submitter);
}

if (window.fetch && window.DOMParser && window.FormData) {
  document.addEventListener("submit", send);
}
