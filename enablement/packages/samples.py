"""Small but real course packages, written by code: a SCORM 1.2 SCO, a SCORM 2004 SCO and a cmi5 AU.

Each is one HTML page of a few pages of text that talks to the runtime the way authoring tools do
(finds ``API`` / ``API_1484_11``, initialises, reads its bookmark and suspend data, writes them on
every page, reports score, status and session time at the end). The demo seed uploads one; the
tests upload them and drive them in a browser."""

from __future__ import annotations

import html
import io
import json
import zipfile

_MANIFEST_12 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="shien.sample.12" version="1"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org">
    <organization identifier="org">
      <title>{title}</title>
      <item identifier="item1" identifierref="res1"><title>{title}</title><adlcp:masteryscore>80</adlcp:masteryscore></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="res1" type="webcontent" adlcp:scormtype="sco" href="sco/index.html">
      <file href="sco/index.html"/><file href="sco/style.css"/>
    </resource>
  </resources>
</manifest>
"""

_MANIFEST_2004 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="shien.sample.2004" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="org">
    <organization identifier="org">
      <title>{title}</title>
      <item identifier="item1" identifierref="res1"><title>{title}</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="res1" type="webcontent" adlcp:scormType="sco" href="index.html">
      <file href="index.html"/><file href="style.css"/>
    </resource>
  </resources>
</manifest>
"""

_CMI5 = """<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://shien.example/courses/sample">
    <title><langstring lang="en-US">{title}</langstring></title>
    <description><langstring lang="en-US">{title}</langstring></description>
  </course>
  <au id="https://shien.example/courses/sample/au1" moveOn="CompletedOrPassed" masteryScore="0.8">
    <title><langstring lang="en-US">{title}</langstring></title>
    <description><langstring lang="en-US">{title}</langstring></description>
    <url>au/index.html</url>
  </au>
</courseStructure>
"""

_STYLE = "body{font-family:system-ui,sans-serif;margin:1.5rem;line-height:1.6;color:#1d2433}" \
         "button{font:inherit;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0}.muted{color:#5b6475}"

# One script for both SCORM versions: ``V`` maps the few elements it uses.
_SCO_SCRIPT = """
var V = %(v12)s ? {
  init: function (a) { return a.LMSInitialize(""); }, get: function (a, k) { return a.LMSGetValue(k); },
  set: function (a, k, v) { return a.LMSSetValue(k, v); }, commit: function (a) { return a.LMSCommit(""); },
  finish: function (a) { return a.LMSFinish(""); }, location: "cmi.core.lesson_location",
  entry: "cmi.core.entry", name: "cmi.core.student_name", exit: "cmi.core.exit", time: "cmi.core.session_time",
  done: function (a, score) { a.LMSSetValue("cmi.core.score.raw", String(score)); a.LMSSetValue("cmi.core.lesson_status", score >= 80 ? "passed" : "failed"); },
  seconds: function (s) { function p(n) { return (n < 10 ? "0" : "") + n; } return p(Math.floor(s / 3600)) + ":" + p(Math.floor(s / 60) %% 60) + ":" + p(s %% 60); },
  find: function () { var w = window; for (var i = 0; w && i < 10; i++) { if (w.API) return w.API; if (w === w.parent) break; w = w.parent; } return null; }
} : {
  init: function (a) { return a.Initialize(""); }, get: function (a, k) { return a.GetValue(k); },
  set: function (a, k, v) { return a.SetValue(k, v); }, commit: function (a) { return a.Commit(""); },
  finish: function (a) { return a.Terminate(""); }, location: "cmi.location", entry: "cmi.entry",
  name: "cmi.learner_name", exit: "cmi.exit", time: "cmi.session_time",
  done: function (a, score) { a.SetValue("cmi.score.raw", String(score)); a.SetValue("cmi.score.scaled", String(score / 100)); a.SetValue("cmi.completion_status", "completed"); a.SetValue("cmi.success_status", score >= 80 ? "passed" : "failed"); },
  seconds: function (s) { return "PT" + s + "S"; },
  find: function () { var w = window; for (var i = 0; w && i < 10; i++) { if (w.API_1484_11) return w.API_1484_11; if (w === w.parent) break; w = w.parent; } return null; }
};
var PAGES = %(pages)s;
var api = V.find();
var started = Date.now();
var page = 0;
var visited = [];
function cookieState() { try { return "readable:" + document.cookie; } catch (e) { return "blocked"; } }
function show() {
  document.getElementById("page").textContent = PAGES[page];
  document.getElementById("pos").textContent = (page + 1) + " / " + PAGES.length;
  document.getElementById("next").hidden = page >= PAGES.length - 1;
  document.getElementById("finish").hidden = page < PAGES.length - 1;
}
function save() {
  V.set(api, V.location, String(page));
  V.set(api, "cmi.suspend_data", JSON.stringify({visited: visited}));
  V.set(api, V.exit, "suspend");
  V.commit(api);
}
function start() {
  document.getElementById("cookie").textContent = cookieState();
  document.getElementById("origin").textContent = String(window.origin);
  if (!api) { document.getElementById("status").textContent = "no-api"; return; }
  V.init(api);
  var loc = V.get(api, V.location);
  var data = V.get(api, "cmi.suspend_data");
  try { visited = JSON.parse(data || "{}").visited || []; } catch (e) { visited = []; }
  page = loc && !isNaN(parseInt(loc, 10)) ? Math.min(parseInt(loc, 10), PAGES.length - 1) : 0;
  document.getElementById("entry").textContent = V.get(api, V.entry) || "";
  document.getElementById("learner").textContent = V.get(api, V.name) || "";
  document.getElementById("status").textContent = "ready";
  show();
}
document.getElementById("next").addEventListener("click", function () {
  page += 1; if (visited.indexOf(page) < 0) visited.push(page); show(); save();
});
document.getElementById("finish").addEventListener("click", function () {
  V.done(api, 90);
  V.set(api, V.exit, "");
  V.set(api, V.time, V.seconds(Math.round((Date.now() - started) / 1000)));
  V.commit(api); V.finish(api);
  document.getElementById("status").textContent = "finished";
});
start();
"""


def sco_html(*, title: str, pages: list[str], scorm12: bool, lang: str = "en", diagnostics: bool = True) -> str:
    script = _SCO_SCRIPT % {"v12": "true" if scorm12 else "false", "pages": json.dumps(pages, ensure_ascii=False)}
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="style.css"></head><body>\n<h1>{html.escape(title)}</h1>\n'
        '<p id="page"></p><p class="muted"><span id="pos"></span></p>\n'
        '<button type="button" id="next">Next / 次へ</button><button type="button" id="finish" hidden>Finish / 完了</button>\n'
        f'<p class="muted"{"" if diagnostics else " hidden"}>status: <span id="status">loading</span> · entry: <span id="entry"></span> · '
        'learner: <span id="learner"></span> · origin: <span id="origin"></span> · cookie: <span id="cookie"></span></p>\n'
        f"<script>{script}</script>\n</body></html>\n"
    )


_CMI5_AU = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title><link rel="stylesheet" href="../style.css"></head><body>
<h1>%(title)s</h1>
<p>A short cmi5 unit: finish it to record your score. / cmi5 の短いユニットです。完了するとスコアが記録されます。</p>
<button type="button" id="finish" disabled>Finish / 完了</button>
<p class="muted">status: <span id="status">loading</span> · moveOn: <span id="moveon"></span> ·
origin: <span id="origin"></span> · cookie: <span id="cookie"></span></p>
<script>
(function () {
  var q = new URLSearchParams(location.search);
  var endpoint = q.get("endpoint"), actor = JSON.parse(q.get("actor") || "null");
  var registration = q.get("registration"), activity = q.get("activityId");
  var statusEl = document.getElementById("status"), started = Date.now(), auth = null, template = {};
  document.getElementById("origin").textContent = String(self.origin);
  try { document.cookie; document.getElementById("cookie").textContent = "readable"; }
  catch (e) { document.getElementById("cookie").textContent = "blocked"; }
  function headers(json) {
    var h = {"Authorization": "Basic " + auth, "X-Experience-API-Version": "1.0.3"};
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  function duration() { return "PT" + Math.max(1, Math.round((Date.now() - started) / 1000)) + "S"; }
  function send(verb, result) {
    var context = JSON.parse(JSON.stringify(template));
    context.registration = registration;
    context.contextActivities = context.contextActivities || {};
    context.contextActivities.category = [{"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}];
    var stmt = {actor: actor, verb: {id: "http://adlnet.gov/expapi/verbs/" + verb, display: {"en-US": verb}},
                object: {objectType: "Activity", id: activity}, context: context, timestamp: new Date().toISOString()};
    if (result) stmt.result = result;
    return fetch(endpoint + "statements", {method: "POST", headers: headers(true), body: JSON.stringify(stmt)})
      .then(function (r) { if (!r.ok) throw new Error(verb + " " + r.status); return r.json(); });
  }
  if (!endpoint || !q.get("fetch")) { statusEl.textContent = "no-launch-parameters"; return; }
  fetch(q.get("fetch"), {method: "POST"}).then(function (r) { return r.json(); }).then(function (body) {
    if (!body["auth-token"]) throw new Error("fetch " + JSON.stringify(body));
    auth = body["auth-token"];
    var state = endpoint + "activities/state?" + new URLSearchParams({stateId: "LMS.LaunchData", activityId: activity,
      agent: JSON.stringify(actor), registration: registration});
    return fetch(state, {headers: headers(false)});
  }).then(function (r) { if (!r.ok) throw new Error("state " + r.status); return r.json(); }).then(function (data) {
    template = data.contextTemplate || {};
    document.getElementById("moveon").textContent = data.moveOn;
    return send("initialized");
  }).then(function () {
    statusEl.textContent = "ready";
    document.getElementById("finish").disabled = false;
  }).catch(function (e) { statusEl.textContent = "error: " + e.message; });
  document.getElementById("finish").addEventListener("click", function () {
    document.getElementById("finish").disabled = true;
    send("completed", {completion: true, duration: duration()}).then(function () {
      return send("passed", {success: true, score: {scaled: 0.9, raw: 90, min: 0, max: 100}, duration: duration()});
    }).then(function () {
      return send("terminated", {duration: duration()});
    }).then(function () { statusEl.textContent = "finished"; })
      .catch(function (e) { statusEl.textContent = "error: " + e.message; });
  });
})();
</script></body></html>
"""


DEFAULT_PAGES = [
    "Welcome. This short course shows how packaged courses are tracked. / パッケージ型コースの記録方法を紹介します。",
    "Page two: your place is saved on every page. / 2 ページ目：ページごとに位置が保存されます。",
    "Last page: finish to record your score. / 最終ページ：完了するとスコアが記録されます。",
]


def _zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data.encode() if isinstance(data, str) else data)
    return buf.getvalue()


def scorm12_package(title: str = "SCORM 1.2 sample", pages: list[str] | None = None) -> bytes:
    pages = pages or DEFAULT_PAGES
    return _zip({
        "imsmanifest.xml": _MANIFEST_12.format(title=html.escape(title)),
        "sco/index.html": sco_html(title=title, pages=pages, scorm12=True),
        "sco/style.css": _STYLE,
    })


def scorm2004_package(
    title: str = "SCORM 2004 sample", pages: list[str] | None = None, lang: str = "en", diagnostics: bool = True
) -> bytes:
    pages = pages or DEFAULT_PAGES
    return _zip({
        "imsmanifest.xml": _MANIFEST_2004.format(title=html.escape(title)),
        "index.html": sco_html(title=title, pages=pages, scorm12=False, lang=lang, diagnostics=diagnostics),
        "style.css": _STYLE,
    })


def cmi5_package(title: str = "cmi5 sample") -> bytes:
    return _zip({
        "cmi5.xml": _CMI5.format(title=html.escape(title)),
        "au/index.html": _CMI5_AU % {"title": html.escape(title)},
        "style.css": _STYLE,
    })
