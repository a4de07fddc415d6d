// Training player: records which parts of the video were actually played and reports them.
// The server merges the segments and decides completion (watched share >= threshold), so
// seeking to the end does not complete a training. Each report carries the page's signed play
// session; the server credits played time only within it (elapsed time x 2) and answers the rest
// as "deferred", which is offered again on the next heartbeat. A 429 answer is retried after
// its Retry-After with the same event id. Loaded as a static file (CSP script-src 'self').
(function () {
  "use strict";
  var root = document.querySelector("[data-player]");
  if (!root) return;
  var video = root.querySelector("video");
  if (!video) return;

  var url = root.getAttribute("data-progress-url");
  var csrf = root.getAttribute("data-csrf");
  var serverDuration = parseFloat(root.getAttribute("data-duration")) || 0;
  var resume = parseFloat(root.getAttribute("data-resume")) || 0;
  var session = root.getAttribute("data-session") || "";
  var HEARTBEAT_MS = 10000;

  var segments = [];      // closed [start, end] ranges played since the page was opened
  var segStart = null;    // start of the range being played now
  var lastTime = null;    // last position seen while playing
  var pending = null;     // a report that failed: {id, data}, retried with the same event_id
  var sending = false;
  var dirty = false;
  var holdUntil = 0;      // after a 429: no report before this time (ms)

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function duration() {
    return isFinite(video.duration) && video.duration > 0 ? video.duration : serverDuration;
  }

  // Largest plausible gap between two timeupdate events while playing normally.
  function maxStep() { return Math.max(2, 2 * (video.playbackRate || 1)); }

  function closeSegment() {
    if (segStart !== null && lastTime !== null && lastTime > segStart) {
      segments.push([segStart, lastTime]);
      dirty = true;
    }
    segStart = null;
  }

  // The position at pause/end is a little past the last timeupdate: count it if it is plausible.
  function extendToCurrent() {
    if (segStart === null || video.seeking) return;
    var t = video.currentTime;
    if (t >= lastTime && t - lastTime <= maxStep()) lastTime = t;
  }

  function merged() {
    var list = segments.slice();
    if (segStart !== null && lastTime !== null && lastTime > segStart) list.push([segStart, lastTime]);
    list.sort(function (a, b) { return a[0] - b[0]; });
    var out = [];
    list.forEach(function (s) {
      var last = out[out.length - 1];
      if (last && s[0] <= last[1] + 0.001) { last[1] = Math.max(last[1], s[1]); }
      else { out.push([s[0], s[1]]); }
    });
    return out;
  }

  function showState(data) {
    var bar = document.querySelector("[data-progress-bar]");
    var text = document.querySelector("[data-progress-text]");
    var share = Math.round(data.share || 0);
    if (bar) {
      bar.setAttribute("aria-valuenow", String(share));
      var span = bar.querySelector("span");
      if (span) span.style.width = share + "%";
    }
    if (text) text.textContent = String(share);
    if (data.completed) {
      var status = document.querySelector("[data-status]");
      if (status && root.getAttribute("data-completed") !== "1") {
        var badge = document.createElement("span");
        badge.className = "badge badge-ok";
        badge.textContent = status.getAttribute("data-label-completed") || "Completed";
        status.textContent = "";
        status.appendChild(badge);
        root.setAttribute("data-completed", "1");
      }
    }
  }

  function post(report, keepalive) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(Object.assign({ session: session }, report.data))
    }).then(function (response) {
      if (response.status === 429) {
        var wait = parseFloat(response.headers.get("Retry-After")) || 10;
        holdUntil = Date.now() + wait * 1000;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      if (data.session) session = data.session;
      if (data.deferred > 0) dirty = true;  // played faster than the session allows yet: offer it again
      return data;
    });
  }

  function report(keepalive) {
    var errorNote = document.querySelector("[data-save-error]");
    if (sending && !keepalive) return;
    if (!keepalive && Date.now() < holdUntil) return;
    var segs = merged();
    if (!pending && !dirty && segs.length === 0) return;
    var current = {
      id: newId(),
      data: null
    };
    var total = segs.reduce(function (sum, s) { return sum + (s[1] - s[0]); }, 0);
    current.data = {
      event_id: current.id,
      played_segments: segs,
      position: video.currentTime || 0,
      seconds: Math.round(total * 100) / 100,
      duration: duration()
    };
    dirty = false;
    var queue = pending ? [pending, current] : [current];
    if (keepalive) { queue.forEach(function (r) { post(r, true).catch(function () {}); }); pending = null; return; }
    sending = true;
    var chain = Promise.resolve();
    queue.forEach(function (r) {
      chain = chain.then(function () {
        return post(r, false).then(function (data) {
          if (pending === r) pending = null;
          showState(data);
        }, function (err) {
          pending = r;  // retried with the same event_id: the server stores it once
          throw err;
        });
      });
    });
    chain.then(function () {
      if (errorNote) errorNote.hidden = true;
    }, function () {
      if (errorNote) errorNote.hidden = false;
    }).then(function () { sending = false; });
  }

  // Resume where the person left off. A cached video may already have its metadata when this
  // script runs (loadedmetadata fired before the listener existed), so seek now in that case too.
  var resumed = false;
  function applyResume() {
    if (resumed) return;
    resumed = true;
    if (resume > 0 && resume < duration() - 1 && video.currentTime < 0.5) video.currentTime = resume;
  }
  video.addEventListener("loadedmetadata", applyResume);
  if (video.readyState >= 1) applyResume();
  video.addEventListener("playing", function () {
    closeSegment();
    segStart = video.currentTime; lastTime = video.currentTime;
  });
  video.addEventListener("timeupdate", function () {
    if (video.paused || video.seeking || segStart === null) return;
    var t = video.currentTime;
    if (t < lastTime || t - lastTime > maxStep()) {  // a jump, not playback
      closeSegment();
      segStart = t;
    }
    lastTime = t;
  });
  video.addEventListener("seeking", function () {
    closeSegment();  // the range played so far ends where the seek started
  });
  video.addEventListener("seeked", function () {
    if (!video.paused) { segStart = video.currentTime; lastTime = video.currentTime; }
  });
  video.addEventListener("pause", function () { extendToCurrent(); closeSegment(); report(false); });
  video.addEventListener("ended", function () { extendToCurrent(); closeSegment(); report(false); });
  window.setInterval(function () {
    if (!video.paused && segStart !== null) {
      // Split the open range at the heartbeat so the report carries it.
      var t = video.currentTime;
      if (t - lastTime <= maxStep()) lastTime = t;
      closeSegment();
      segStart = lastTime;
      dirty = true;
    }
    if (dirty || pending) report(false);
  }, HEARTBEAT_MS);
  window.addEventListener("pagehide", function () { extendToCurrent(); closeSegment(); if (dirty || pending) report(true); });
})();
