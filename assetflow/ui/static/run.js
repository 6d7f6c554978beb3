// A run page: while the run runs in this serve process, poll its progress; when it ends, load the
// page of the recorded run. A run of another process that still runs: reload now and then.
"use strict";
(() => {
  function render(section, live) {
    const status = document.getElementById("run-status");
    status.textContent = live.status;
    status.className = "badge s-" + live.status;
    section.querySelector("progress").max = Math.max(live.total, 1);
    section.querySelector("progress").value = live.finished;
    section.querySelector(".progress-text").textContent =
      `${live.finished} of ${live.total} partitions` + (live.cancelling ? " (cancelling: running partitions finish, nothing new starts)" : "");
    const list = section.querySelector(".running");
    list.replaceChildren(...live.running.slice(0, 20).map((r) => {
      const li = document.createElement("li");
      li.textContent = `running: ${r.asset} ${r.partition || ""}`;
      return li;
    }));
  }

  function poll(section) {
    let done = false;
    const tick = async () => {
      try {
        const response = await fetch(section.dataset.poll, {credentials: "same-origin"});
        const live = await response.json();
        render(section, live);
        if (!["queued", "running"].includes(live.status) && !done) {
          done = true;
          window.location.replace(live.run_id ? "/runs/" + encodeURIComponent(live.run_id) : window.location.href);
          return;
        }
      } catch (e) { /* the server may be restarting: try again */ }
      setTimeout(tick, 400);
    };
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("progress");
    const status = document.getElementById("run-status");
    if (section) {
      const live = JSON.parse(document.getElementById("live-data").textContent);
      if (["queued", "running"].includes(live.status)) poll(section);
    } else if (status && status.textContent === "running") {
      setTimeout(() => window.location.reload(), 2000);
    }
  });
})();
