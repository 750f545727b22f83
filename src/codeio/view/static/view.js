// codeio view: refresh the counts while a run is in progress (no other script on any page).
"use strict";
(function () {
  if (document.body.dataset.running !== "1") return;
  function lookup(obj, path) {
    if (path === "samples") return obj.samples;
    var m = /^stage\.([^.]+)\.(\w+)$/.exec(path);
    if (!m) return undefined;
    var stage = (obj.stages || []).filter(function (s) { return s.stage === m[1]; })[0];
    return stage ? stage[m[2]] : undefined;
  }
  function tick() {
    fetch("/api/summary", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (summary) {
        if (!summary) return;
        document.querySelectorAll("[data-count]").forEach(function (el) {
          var v = lookup(summary, el.dataset.count);
          if (v !== undefined) el.textContent = String(v);  // textContent: never parsed as HTML
        });
        if (!summary.running) document.body.dataset.running = "0";
        else setTimeout(tick, 3000);
      })
      .catch(function () { setTimeout(tick, 10000); });
  }
  setTimeout(tick, 3000);
})();
