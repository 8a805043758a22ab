// Live updates: fetch this page again and swap its <main>; the page itself works without this.
(function () {
  var every = Number(document.body.dataset.refresh) || 2000;
  var live = document.getElementById("live");
  var state = "";
  function show(next, text) {
    document.documentElement.dataset.live = next;
    if (next !== state || next === "on") { live.textContent = text; }
    state = next;
  }
  function refresh() {
    if (document.hidden) { return; }
    fetch(location.pathname, { cache: "no-store", credentials: "same-origin",
                               headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (!next) { throw new Error("no status in the answer"); }
        document.querySelector("main").replaceWith(document.adoptNode(next));
        show("on", "Live: updated at " + new Date().toLocaleTimeString());
      })
      .catch(function (e) { show("paused", "Live updates paused (" + e.message + "); retrying"); });
  }
  show("on", "Live: updates every " + every / 1000 + " s");
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
