// The Backfill dialog of an asset page: From, To, two switches, Preview (a dry run on the server:
// how many partitions of how many assets) and Launch (opens the run page).
"use strict";
(() => {
  function fields(form) {
    return {asset: form.elements.asset.value, from: form.elements.from.value.trim(), to: form.elements.to.value.trim(),
            downstream: form.elements.downstream.checked, only_missing: form.elements.only_missing.checked};
  }

  function wire() {
    const dialog = document.getElementById("backfill-dialog");
    if (!dialog) return;
    const form = document.getElementById("backfill-form");
    const preview = form.querySelector(".preview");
    const error = form.querySelector(".form-error");
    const reset = () => { preview.textContent = ""; error.textContent = ""; };
    document.getElementById("backfill-open").addEventListener("click", () => { reset(); dialog.showModal(); });
    document.getElementById("bf-close").addEventListener("click", () => dialog.close());
    form.addEventListener("input", () => { preview.textContent = ""; });
    document.getElementById("bf-preview").addEventListener("click", async () => {
      reset();
      preview.textContent = "Counting…";
      try {
        const data = await assetflow.post("/api/backfill/preview", fields(form));
        preview.textContent = data.sentence + ".";
      } catch (e) { preview.textContent = ""; error.textContent = e.message; }
    });
    document.getElementById("bf-launch").addEventListener("click", async (event) => {
      reset();
      event.target.disabled = true;
      try {
        const data = await assetflow.post("/api/backfill", fields(form));
        window.location.assign(data.url);
      } catch (e) { error.textContent = e.message; event.target.disabled = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
