// Each table that reads as cards on a phone (portal/table_cards.py) says its parts' roles out loud: table, rowgroup,
// row, columnheader or rowheader, cell. Below 40rem static/portal.css lays those tables out with display:block, and
// WebKit (Safari, and the sign-in window of every iPhone) then no longer exposes them as tables: VoiceOver reads the
// cells as loose text, without their row or their column's heading. Named roles keep the table whatever the layout;
// Chromium and Firefox, which keep it anyway, expose the same roles as before. The markup the server sends is left
// as it is. Loaded as a module, once per page however many tables name it.
//
// Pages change after loading in two ways. A page that updates itself (templates/_auto_refresh.html) fetches itself
// and makes this page's elements, attributes included, those of the fetched one: it announces the fetched page
// first ("portal:page-fetched", the parsed document as its detail), whose tables are named here before the merge,
// so the merge neither takes the roles off nor finds every table changed. Anything else put into the page (an image
// form's answer, static/media-upload.js) is named as it comes in, each table once however many of its rows came.

const TABLES = ".table-cards > table";

function headerRole(cell) {
  // A heading in a row without data cells heads its column; one beside data cells heads its row.
  return cell.closest("thead") || !cell.parentElement.querySelector(":scope > td") ? "columnheader" : "rowheader";
}

function setRole(element, role) {
  if (element.getAttribute("role") !== role) element.setAttribute("role", role); // unchanged: no mutation to see
}

function nameRoles(table) {
  setRole(table, "table");
  for (const group of table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot")) {
    setRole(group, "rowgroup");
  }
  for (const row of table.rows) {
    setRole(row, "row");
    for (const cell of row.cells) setRole(cell, cell.tagName === "TH" ? headerRole(cell) : "cell");
  }
}

function nameIn(nodes) {
  const tables = new Set();
  for (const node of nodes) {
    if (!node.querySelectorAll) continue; // text and comments
    const around = node.closest?.(TABLES); // the node itself, or the table a new row or body went into
    if (around) tables.add(around);
    for (const table of node.querySelectorAll(TABLES)) tables.add(table);
  }
  tables.forEach(nameRoles);
}

nameIn([document]);
document.addEventListener("portal:page-fetched", (event) => nameIn([event.detail]));
new MutationObserver((changes) => nameIn(changes.flatMap((change) => [...change.addedNodes])))
  .observe(document.body, { childList: true, subtree: true });
