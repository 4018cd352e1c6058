// The dashboard's model panel while a training runs: every few seconds the panel alone is
// fetched again (same origin, the session cookie) and swapped in, so its stage, progress
// bar and ETA move without reloading the page; once no training shows, it stops.  A
// version list left open stays open.  Without script the panel is as fresh as the page.
(function () {
  "use strict";
  var EVERY_MS = 3000;

  function training(panel) { return panel && panel.querySelector("#model-training"); }

  function schedule() { window.setTimeout(refresh, EVERY_MS); }

  function refresh() {
    var panel = document.getElementById("model-panel");
    if (!training(panel)) { return; }
    if (document.hidden) { schedule(); return; }
    fetch(panel.getAttribute("data-refresh"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("model-panel");
        if (!fresh) { return; }  // signed out: the sign-in page came back
        var open = panel.querySelector("#model-versions[open]");
        var list = fresh.querySelector("#model-versions");
        if (open && list) { list.setAttribute("open", ""); }
        panel.replaceWith(document.importNode(fresh, true));
        schedule();
      })
      .catch(function (e) {  // a network blip: try again later; a deleted taxonomy: stop
        if (e.message !== "404") { schedule(); }
      });
  }

  schedule();
}());
