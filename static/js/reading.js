// Document reader: for a document completed by reading time, reports how long the page was
// visible. Every 15 seconds while the page is visible it posts the visible seconds since the
// previous report with the page's signed reading session; the server credits them only within
// the wall-clock time elapsed in that session and logs "document.read" once the document's
// minimum reading time is reached, so a report claiming more time than passed completes nothing.
// A hidden page (another tab, a minimised window) reports nothing and accrues nothing. A 429
// answer is retried after its Retry-After; a failed report keeps its seconds for the next one.
// Loaded as a static file (CSP script-src 'self').
(function () {
  "use strict";
  var root = document.querySelector("[data-reading]");
  if (!root) return;
  var url = root.getAttribute("data-reading-url");
  var csrf = root.getAttribute("data-csrf");
  var session = root.getAttribute("data-session") || "";
  var done = root.getAttribute("data-completed") === "1";
  var BEAT_MS = 15000;
  var MAX_CLAIM = 60;       // seconds per report (the server caps a claim there too)

  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var banked = 0;           // visible seconds not yet credited
  var sending = false;
  var holdUntil = 0;        // after a 429: no report before this time (ms)

  function collect() {
    if (visibleSince !== null) {
      var now = Date.now();
      banked += (now - visibleSince) / 1000;
      visibleSince = now;
    }
  }

  function show(data) {
    var bar = root.querySelector("[data-reading-bar]");
    var percent = Math.max(0, Math.min(100, Math.round(data.percent || 0)));
    if (bar) {
      bar.setAttribute("aria-valuenow", String(percent));
      var span = bar.querySelector("span");
      if (span) span.style.width = percent + "%";
    }
    var left = root.querySelector("[data-reading-left]");
    if (left) {
      var unit = parseInt(left.getAttribute("data-unit"), 10) || 60;  // seconds per shown unit
      left.textContent = String(Math.ceil((data.remaining || 0) / unit));
    }
    if (data.completed && !done) {
      done = true;
      root.setAttribute("data-completed", "1");
      var status = root.querySelector("[data-status]");
      if (status) {
        var badge = document.createElement("span");
        badge.className = "badge badge-ok";
        badge.textContent = status.getAttribute("data-label-completed") || "Completed";
        status.textContent = "";
        status.appendChild(badge);
      }
      var remaining = root.querySelector("[data-reading-remaining]");
      if (remaining) remaining.hidden = true;
    }
  }

  function report(keepalive) {
    if (done || (sending && !keepalive)) return;
    if (!keepalive && Date.now() < holdUntil) return;
    collect();
    var claim = Math.min(banked, MAX_CLAIM);
    if (claim < 1) return;
    banked -= claim;
    sending = !keepalive;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ session: session, seconds: Math.round(claim * 100) / 100 })
    }).then(function (response) {
      if (response.status === 429) {
        var wait = parseFloat(response.headers.get("Retry-After")) || 15;
        holdUntil = Date.now() + wait * 1000;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      if (data.session) session = data.session;
      if (data.deferred > 0) banked += data.deferred;  // more than the session allows yet: offered again
      show(data);
    }, function () {
      banked += claim;  // kept for the next report
    }).then(function () { sending = false; });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      visibleSince = Date.now();
    } else {
      collect();
      visibleSince = null;
      report(true);
    }
  });
  window.setInterval(function () {
    if (document.visibilityState === "visible") report(false);
  }, BEAT_MS);
})();
