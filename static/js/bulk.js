// "Select all" on the bulk decision page (a static file: the CSP allows no inline script).
document.getElementById("select-all")?.addEventListener("change", (e) => {
  document.querySelectorAll("input[name=case]").forEach((box) => {
    box.checked = e.target.checked;
  });
});
