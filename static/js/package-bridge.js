/* Runs inside a packaged course's own (sandboxed, opaque-origin) window: creates the SCORM runtime
   (scorm-again, loaded just before this file) from the state the server put in the page, exposes it
   as window.API (SCORM 1.2) or window.API_1484_11 (SCORM 2004), and relays every initialise, commit
   and finish to the portal page by postMessage. The portal page checks where a message comes from
   and posts it to the server with CSRF; nothing here can reach the portal's cookies or API. */
(function () {
  "use strict";
  var el = document.getElementById("shien-package-state");
  if (!el) { return; }
  var state;
  try { state = JSON.parse(el.textContent); } catch (e) { return; }
  var is12 = state.standard === "scorm12";
  var Runtime = is12 ? window.Scorm12API : window.Scorm2004API;
  if (!Runtime) { return; }
  var api = new Runtime({ autocommit: false, lmsCommitUrl: false, logLevel: 5 });
  try { api.loadFromJSON(state.cmi || {}); } catch (e) { /* a stored value the runtime refuses: start fresh */ }
  var startedAt = null;
  var timer = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function elapsed() {
    var s = startedAt ? Math.max(0, Math.round((Date.now() - startedAt) / 1000)) : 0;
    return is12 ? pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60) : "PT" + s + "S";
  }
  function send(kind) {
    var data;
    try { data = api.renderCMIToJSONObject(); } catch (e) { return; }
    var cmi = (data && data.cmi) || {};
    // Content that never reports its session time: the time since Initialize (the server still
    // credits no more than the wall-clock time since the launch).
    if (is12) {
      cmi.core = cmi.core || {};
      if (!cmi.core.session_time || cmi.core.session_time === "00:00:00") { cmi.core.session_time = elapsed(); }
    } else if (!cmi.session_time || cmi.session_time === "PT0H0M0S") {
      cmi.session_time = elapsed();
    }
    window.top.postMessage({ type: "shien:package", kind: kind, cmi: cmi }, state.origin);
  }
  function soon() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; send("commit"); }, 2000);
  }
  api.on(is12 ? "LMSInitialize" : "Initialize", function () { startedAt = Date.now(); send("initialize"); });
  api.on(is12 ? "LMSCommit" : "Commit", function () { send("commit"); });
  api.on(is12 ? "LMSFinish" : "Terminate", function () { if (timer) { clearTimeout(timer); timer = null; } send("finish"); });
  api.on(is12 ? "LMSSetValue.cmi.*" : "SetValue.cmi.*", soon);
  if (is12) { window.API = api; } else { window.API_1484_11 = api; }
})();
