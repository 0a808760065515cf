// Review page: keeps the claim alive while the page is open, fills the decision form
// from the policy catalogue, and offers keyboard shortcuts for the common moves.
(function () {
  "use strict";
  const root = document.getElementById("review");
  if (!root) return;
  const form = document.getElementById("decision-form");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  const openedAt = Date.now();

  // Lease: renew every third of the lease while the page is visible; show time left.
  let expires = root.dataset.expires ? new Date(root.dataset.expires) : null;
  const leaseMs = Number(root.dataset.leaseSeconds || 900) * 1000;
  const leftBadge = document.getElementById("lease-left");
  function showLeft() {
    if (!expires || !leftBadge) return;
    const secs = Math.max(0, Math.round((expires - Date.now()) / 1000));
    leftBadge.textContent = `lease ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
  }
  async function renew() {
    if (!expires || document.hidden || !csrf) return;
    const response = await fetch(root.dataset.renewUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrf.value },
      credentials: "same-origin",
    });
    if (response.ok) {
      expires = new Date((await response.json()).expires_at);
    } else if (response.status === 409) {
      expires = null;
      document.getElementById("lease-lost").hidden = false;
      const button = document.getElementById("decide-btn");
      if (button) button.disabled = true;
    }
    showLeft();
  }
  if (expires) {
    showLeft();
    setInterval(showLeft, 1000);
    setInterval(renew, Math.max(30000, leaseMs / 3));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && expires && expires - Date.now() < leaseMs / 2) renew();
    });
  }

  // Decision form: allowed outcomes per policy, defaults preselected, statement prefilled.
  const catalogueNode = document.getElementById("policy-catalogue");
  const catalogue = catalogueNode ? JSON.parse(catalogueNode.textContent) : {};
  if (form) {
    const policy = form.querySelector("select[name=policy]");
    const statement = form.querySelector("textarea[name=statement]");
    const outcomes = () => Array.from(form.querySelectorAll("input[name=outcomes]"));
    let statementTouched = statement && statement.value.trim() !== "";
    statement?.addEventListener("input", () => { statementTouched = true; });
    function applyPolicy(preselect) {
      const entry = catalogue[policy.value];
      outcomes().forEach((box) => {
        const allowed = !entry || entry.allowed.includes(box.value);
        box.disabled = !allowed;
        box.closest("label")?.classList.toggle("disallowed", !allowed);
        if (!allowed) box.checked = false;
        if (entry && preselect) box.checked = entry.default.includes(box.value);
      });
      if (entry && statement && (!statementTouched || preselect === "force")) statement.value = entry.statement;
    }
    policy?.addEventListener("change", () => { statementTouched = false; applyPolicy(true); });
    if (policy) applyPolicy(false);

    function verdict() {
      const chosen = form.querySelector("input[name=is_violation]:checked");
      const violation = !chosen || chosen.value === "yes";
      ["outcomes-field", "statement-field", "hold-field"].forEach((id) => {
        const el = document.getElementById(id);
        if (el) el.hidden = !violation;
      });
    }
    form.querySelectorAll("input[name=is_violation]").forEach((r) => r.addEventListener("change", verdict));
    verdict();
    form.addEventListener("submit", () => {
      const field = form.querySelector("input[name=handling_seconds]");
      if (field) field.value = Math.round((Date.now() - openedAt) / 1000);
    });
  }

  // Keyboard shortcuts, ignored while typing.
  function setVerdict(value) {
    const radio = form?.querySelector(`input[name=is_violation][value=${value}]`);
    if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change")); }
  }
  function openBox(id) {
    const box = document.getElementById(id);
    if (box) { box.open = true; box.querySelector("textarea")?.focus(); }
  }
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const moves = {
      v: () => setVerdict("yes"),
      n: () => setVerdict("no"),
      r: () => document.getElementById("release-btn")?.click(),
      s: () => openBox("skip-box"),
      e: () => openBox("escalate-box"),
    };
    if (moves[event.key]) { event.preventDefault(); moves[event.key](); }
  });
})();
