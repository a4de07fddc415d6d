// Launch page of a packaged course. The course runs in a sandboxed iframe (opaque origin); its
// runtime (static/js/package-bridge.js) posts each initialise/commit/finish here. Only messages from
// the course frame (or a frame inside it) are taken; each is posted to the server with the page's
// CSRF token, the attempt and the signed play session, with an event id that a retry keeps (the
// server stores a retried commit once). Newer data replaces a commit not yet sent.
(function () {
  "use strict";
  var root = document.querySelector("[data-package]");
  if (!root) return;
  var frame = root.querySelector("[data-package-frame]");
  var loading = root.querySelector("[data-package-loading]");
  var statusEl = document.querySelector("[data-package-status]");
  var scoreEl = document.querySelector("[data-package-score]");
  var errorEl = document.querySelector("[data-save-error]");
  var url = root.getAttribute("data-commit-url");
  var csrf = root.getAttribute("data-csrf");
  var session = root.getAttribute("data-session");
  var attempt = parseInt(root.getAttribute("data-attempt"), 10);
  var queued = null;   // {id, cmi}: the newest commit not yet stored
  var sending = false;
  var holdUntil = 0;

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  frame.addEventListener("load", function () { if (loading) loading.hidden = true; });

  function fromCourse(source) {
    var w = source;
    for (var i = 0; w && i < 10; i++) {
      if (w === frame.contentWindow) return true;
      if (w === w.parent) return false;
      w = w.parent;
    }
    return false;
  }

  function badge(cls, text) {
    var span = document.createElement("span");
    span.className = "badge" + (cls ? " " + cls : "");
    span.textContent = text;
    return span;
  }

  function show(result, cmi) {
    if (!statusEl) return;
    var core = cmi.core || {};
    var success = cmi.success_status || (core.lesson_status === "failed" ? "failed" : "");
    var node;
    if (result.completed) node = badge("badge-ok", statusEl.getAttribute("data-label-completed"));
    else if (success === "failed") node = badge("badge-warn", statusEl.getAttribute("data-label-failed"));
    else node = badge("", statusEl.getAttribute("data-label-progress"));
    var first = statusEl.querySelector(".badge");
    if (first) statusEl.replaceChild(node, first); else statusEl.insertBefore(node, statusEl.firstChild);
    var score = cmi.score || core.score || {};
    if (scoreEl && score.raw !== undefined && score.raw !== "") {
      scoreEl.textContent = " · " + statusEl.getAttribute("data-label-score") + " " + score.raw;
    }
    statusEl.setAttribute("data-completed", result.completed ? "1" : "0");
  }

  function flush() {
    if (sending || !queued) return;
    var wait = holdUntil - Date.now();
    if (wait > 0) { setTimeout(flush, wait); return; }
    var item = queued;
    sending = true;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ attempt: attempt, event_id: item.id, session: session, cmi: item.cmi }),
      keepalive: true
    }).then(function (r) {
      if (r.status === 429) {
        holdUntil = Date.now() + (parseInt(r.headers.get("Retry-After"), 10) || 5) * 1000;
        throw new Error("throttled");
      }
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (result) {
      if (queued === item) queued = null;
      if (result.session) session = result.session;
      if (errorEl) errorEl.hidden = true;
      show(result, item.cmi);
    }).catch(function () {
      if (errorEl) errorEl.hidden = false;
      if (holdUntil < Date.now()) holdUntil = Date.now() + 3000;
    }).then(function () {
      sending = false;
      if (queued) setTimeout(flush, Math.max(0, holdUntil - Date.now()));
    });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== "null" || !fromCourse(event.source)) return;
    var data = event.data;
    if (!data || data.type !== "shien:package" || typeof data.cmi !== "object" || data.cmi === null) return;
    if (loading) loading.hidden = true;
    queued = { id: newId(), cmi: data.cmi };
    flush();
  });
})();
