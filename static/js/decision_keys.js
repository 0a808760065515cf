// Decision form by keyboard alone: detector marks (1-9 right, Shift+1-9 wrong, a / A
// all), focus keys for each control (p o h t c w), canned rationales per policy
// inserted with Enter, Esc to leave a field, b for the case just decided. Errors are
// tied to their fields (aria-invalid, aria-describedby) and the first one is focused.
(function () {
  "use strict";
  const form = document.getElementById("decision-form");
  const stepBack = document.querySelector("#step-back a");

  function markRow(row, value) {
    const radio = row && row.querySelector(`input[type=radio][value=${value}]`);
    if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); radio.focus(); }
  }
  const rows = () => Array.from(document.querySelectorAll("#detector-marks .detector-mark"));
  function focusField(selector) {
    const el = form && form.querySelector(selector);
    if (!el) return;
    const box = el.closest("[hidden]");
    if (box) return;
    el.focus();
    if (el.tagName === "TEXTAREA") el.setSelectionRange(el.value.length, el.value.length);
  }

  // Errors next to their fields, announced and focused.
  if (form) {
    let first = null;
    form.querySelectorAll(".field-error[data-for]").forEach((error) => {
      const controls = form.querySelectorAll(`[name="${error.dataset.for}"]`);
      controls.forEach((control) => {
        control.setAttribute("aria-invalid", "true");
        const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!described.includes(error.id)) described.unshift(error.id);
        control.setAttribute("aria-describedby", described.join(" "));
        if (!first && !control.disabled) first = control;
      });
    });
    if (first) first.focus();
    // A field's error goes away once the field is answered.
    const answered = (event) => {
      const name = event.target.name;
      const error = name && form.querySelector(`.field-error[data-for="${name}"]`);
      if (!error || !String(event.target.value || "").trim()) return;
      error.hidden = true;
      form.querySelectorAll(`[name="${name}"]`).forEach((c) => c.removeAttribute("aria-invalid"));
    };
    form.addEventListener("change", answered);
    form.addEventListener("input", answered);
  }

  // Canned rationales of the chosen policy.
  const cannedNode = document.getElementById("canned-rationales");
  const canned = cannedNode ? JSON.parse(cannedNode.textContent) : {};
  const cannedBox = document.getElementById("canned-box");
  const cannedList = document.getElementById("canned-list");
  const rationale = form && form.querySelector("textarea[name=rationale]");
  const policy = form && form.querySelector("select[name=policy]");
  function insertCanned(text) {
    if (!rationale) return;
    const current = rationale.value.trim();
    rationale.value = current ? `${current}\n${text}` : text;
    rationale.dispatchEvent(new Event("input", { bubbles: true }));
    rationale.focus();
    rationale.setSelectionRange(rationale.value.length, rationale.value.length);
  }
  function showCanned() {
    if (!cannedBox || !cannedList) return;
    const items = (policy && canned[policy.value]) || [];
    cannedList.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button canned-item";
      button.textContent = item.title;
      button.title = item.text;
      button.addEventListener("click", () => insertCanned(item.text));
      li.appendChild(button);
      return li;
    }));
    cannedBox.hidden = items.length === 0;
  }
  policy?.addEventListener("change", showCanned);
  showCanned();
  cannedList?.addEventListener("keydown", (event) => {
    if (!["ArrowDown", "ArrowUp", "ArrowRight", "ArrowLeft"].includes(event.key)) return;
    const buttons = Array.from(cannedList.querySelectorAll("button"));
    const index = buttons.indexOf(document.activeElement);
    const step = event.key === "ArrowDown" || event.key === "ArrowRight" ? 1 : -1;
    const next = buttons[(index + step + buttons.length) % buttons.length];
    if (next) { event.preventDefault(); next.focus(); }
  });

  document.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(tag) && !(tag === "INPUT" && /radio|checkbox/.test(event.target.type));
    if (event.key === "Escape" && typing) { event.target.blur(); form?.focus?.(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const digit = /^Digit([1-9])$/.exec(event.code);
    if (digit && form) {
      const row = rows()[Number(digit[1]) - 1];
      if (row) { event.preventDefault(); markRow(row, event.shiftKey ? "wrong" : "right"); }
      return;
    }
    const focusMoves = {
      p: () => focusField("select[name=policy]"),
      o: () => focusField("input[name=outcomes]:not(:disabled)"),
      h: () => focusField("input[name=hold_days]"),
      t: () => focusField("textarea[name=rationale]"),
      w: () => focusField("textarea[name=statement]"),
      c: () => cannedList?.querySelector("button")?.focus(),
      a: () => rows().forEach((row) => markRow(row, "right")),
      A: () => rows().forEach((row) => markRow(row, "wrong")),
      b: () => stepBack?.click(),
    };
    if (!form && event.key !== "b") return;
    if (focusMoves[event.key]) { event.preventDefault(); focusMoves[event.key](); }
  });
})();
