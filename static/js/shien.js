// Small progressive enhancements shared by every page (no inline scripts: CSP nonce policy).
(function () {
  "use strict";
  // Selects marked data-autosubmit submit their form on change (language switch, filters without htmx).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
  // A thin progress bar while an htmx request is in flight (not for background polls: data-background).
  var bar = document.getElementById("htmx-progress");
  function foreground(event) {
    var elt = event.detail && event.detail.elt;
    return !(elt && elt.closest && elt.closest("[data-background]"));
  }
  document.addEventListener("htmx:beforeRequest", function (event) { if (bar && foreground(event)) bar.classList.add("active"); });
  document.addEventListener("htmx:afterRequest", function (event) { if (bar && foreground(event)) bar.classList.remove("active"); });
  // Keyboard focus survives htmx swaps: the control that had focus (found again by data-focus-key,
  // id or rel) is focused in the new content, e.g. a sort heading after sorting with Enter.
  var focusKey = null;
  function keyOf(el) {
    if (!el || el === document.body || !el.getAttribute) return null;
    var attrs = ["data-focus-key", "id", "rel"];
    for (var i = 0; i < attrs.length; i++) {
      var value = el.getAttribute(attrs[i]);
      if (value) return [attrs[i], value];
    }
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function () { focusKey = keyOf(document.activeElement); });
  document.addEventListener("htmx:afterSettle", function () {
    var key = focusKey;
    focusKey = null;
    var active = document.activeElement;
    if (!key || (active && active !== document.body && document.body.contains(active))) return;
    var value = window.CSS && CSS.escape ? CSS.escape(key[1]) : key[1].replace(/"/g, '\\"');
    var el = document.querySelector("[" + key[0] + '="' + value + '"]');
    if (el && el.focus) el.focus({ preventScroll: true });
  });
  // Confirmation for destructive buttons: <button data-confirm="...">.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); event.stopPropagation(); }
  }, true);
})();
