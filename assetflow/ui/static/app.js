// assetflow UI: what every page shares. The token comes from this page's own <meta> tag; every
// state-changing request sends it in a header (the server refuses a request without it: 403).
"use strict";
const assetflow = (() => {
  const token = () => document.querySelector('meta[name="assetflow-token"]').content;

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Assetflow-Token": token()},
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: response.statusText}; }
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function showError(near, error) {
    const box = near.closest(".actions, form, dialog").querySelector(".form-error");
    if (box) box.textContent = error ? error.message || String(error) : "";
  }

  // A button with data-post="/api/..." posts (with data-selection when it has one) and opens the
  // run page the server answers with.
  function wireButtons() {
    document.querySelectorAll("button[data-post]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        showError(button, null);
        try {
          const data = await post(button.dataset.post, {selection: button.dataset.selection || ""});
          if (data.url) window.location.assign(data.url); else window.location.reload();
        } catch (error) {
          showError(button, error);
          button.disabled = false;
        }
      });
    });
    const form = document.getElementById("materialize-form");
    if (form) form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(form, null);
      try {
        const data = await post(form.dataset.action, {selection: form.elements.selection.value});
        window.location.assign(data.url);
      } catch (error) { showError(form, error); }
    });
  }

  document.addEventListener("DOMContentLoaded", wireButtons);
  return {post, showError};
})();
