// Queue page: j/k move between cases (a roving focus), Enter claims and opens the
// focused case, p shows its preview, / goes to the filters. Ignored while typing.
(function () {
  "use strict";
  const table = document.getElementById("queue-table");
  if (!table) return;
  const rows = () => Array.from(table.querySelectorAll("tr.q-row"));

  function focusRow(row) {
    if (!row) return;
    rows().forEach((r) => { r.tabIndex = r === row ? 0 : -1; });
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }
  function current() {
    const active = document.activeElement;
    return active && active.closest ? active.closest("tr.q-row") : null;
  }
  function move(step) {
    const all = rows();
    const here = current();
    const index = here ? all.indexOf(here) + step : 0;
    focusRow(all[Math.max(0, Math.min(all.length - 1, index))]);
  }
  function togglePreview(row) {
    const button = row && row.querySelector(".q-preview-btn");
    if (button) button.click();
  }
  table.addEventListener("click", (event) => {
    const button = event.target.closest(".q-preview-btn");
    if (!button) return;
    const panel = document.getElementById(button.getAttribute("aria-controls"));
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    if (panel) panel.hidden = open;
  });
  table.addEventListener("focusin", (event) => {
    const row = event.target.closest("tr.q-row");
    if (row) rows().forEach((r) => { r.tabIndex = r === row ? 0 : -1; });
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) return;
    const row = current();
    if (event.key === "j") { event.preventDefault(); move(1); }
    else if (event.key === "k") { event.preventDefault(); move(-1); }
    else if (event.key === "p" && row) { event.preventDefault(); togglePreview(row); }
    else if (event.key === "/") {
      event.preventDefault();
      document.querySelector(".queue-filters select, .queue-filters input")?.focus();
    } else if (event.key === "Enter" && row && event.target === row) {
      event.preventDefault();
      const claim = row.querySelector(".q-claim");
      if (claim && claim.tagName === "BUTTON") claim.form.requestSubmit();
      else if (claim) claim.click();
      else row.querySelector(".q-open")?.click();
    }
  });
})();
