// scimkit admin console: progressive enhancement only. Every form works without this
// file; it adds copy buttons, the modal dialog for a new key's secret, confirmations and
// the account picker's auto-submit. Loaded as a file: the CSP allows no inline script.
"use strict";

document.documentElement.classList.add("js");

// Copy buttons: data-copy names the id of the input whose value is copied.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    if (!input) return;
    const label = button.textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch (_) {
      // No clipboard API (an insecure context, a denied permission): select the text
      // so that Ctrl+C copies it, and try the older command.
      input.focus();
      input.select();
      try {
        copied = document.execCommand("copy");
      } catch (_) {
        copied = false;
      }
    }
    button.textContent = copied ? "Copied" : "Press Ctrl+C";
    button.classList.toggle("done", copied);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove("done");
    }, 2000);
  });
}

// The one-time reveal id of a new key's page is spent: drop it from the address bar, so
// that a bookmark or a shared link does not carry it (it would show nothing anyway).
if (new URLSearchParams(window.location.search).has("reveal")) {
  const url = new URL(window.location.href);
  url.searchParams.delete("reveal");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

// The new key's dialog is rendered open (readable without JavaScript); make it modal.
for (const dialog of document.querySelectorAll("dialog[data-modal]")) {
  if (typeof dialog.showModal === "function") {
    dialog.close();
    dialog.showModal();
  }
}

// Forms whose submission needs a second thought.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// The account picker opens the chosen account at once.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.submit());
}

// Read-only fields select their whole value on focus, for a manual copy.
for (const input of document.querySelectorAll("input[readonly]")) {
  input.addEventListener("focus", () => input.select());
}
