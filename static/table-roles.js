// Each table that reads as cards on a phone (portal/table_cards.py) says its parts' roles out loud: table, rowgroup,
// row, columnheader or rowheader, cell. Below 40rem static/portal.css lays those tables out with display:block, and
// WebKit (Safari, and the sign-in window of every iPhone) then no longer exposes them as tables: VoiceOver reads the
// cells as loose text, without their row or their column's heading. Named roles keep the table whatever the layout;
// Chromium and Firefox, which keep it anyway, expose the same roles as before. The markup the server sends is left
// as it is. Tables a page brings in later (an auto-refresh region, an image form's answer) get theirs as they come.
// Loaded as a module, once per page however many tables name it.

const TABLES = ".table-cards > table";

function headerRole(cell) {
  // A heading in a row without data cells heads its column; one beside data cells heads its row.
  return cell.closest("thead") || !cell.parentElement.querySelector(":scope > td") ? "columnheader" : "rowheader";
}

function nameRoles(table) {
  table.setAttribute("role", "table");
  for (const group of table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot")) {
    group.setAttribute("role", "rowgroup");
  }
  for (const row of table.rows) {
    row.setAttribute("role", "row");
    for (const cell of row.cells) cell.setAttribute("role", cell.tagName === "TH" ? headerRole(cell) : "cell");
  }
}

function nameWithin(root) {
  const around = root.closest?.(TABLES); // the node itself, or the table a new row or body went into
  if (around) nameRoles(around);
  for (const table of root.querySelectorAll?.(TABLES) ?? []) nameRoles(table);
}

nameWithin(document);
new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes) nameWithin(node);
}).observe(document.body, { childList: true, subtree: true });
