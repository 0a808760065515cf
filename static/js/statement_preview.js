// "Preview statement": asks the server for the letter the writer would get, for what the
// decision form holds now, and shows it under the button instead of opening a new tab.
(function () {
  "use strict";
  const button = document.getElementById("statement-preview-btn");
  const output = document.getElementById("statement-preview");
  if (!button || !output || !button.form) return;
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const response = await fetch(button.formAction, {
        method: "POST",
        body: new FormData(button.form),
        headers: { "X-Requested-With": "statement-preview" },
        credentials: "same-origin",
      });
      output.innerHTML = await response.text();
    } catch (error) {
      output.textContent = "The preview could not be loaded; try again.";
    } finally {
      button.disabled = false;
    }
  });
})();
