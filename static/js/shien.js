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
  // A thin progress bar while an htmx request is in flight.
  var bar = document.getElementById("htmx-progress");
  document.addEventListener("htmx:beforeRequest", function () { if (bar) bar.classList.add("active"); });
  document.addEventListener("htmx:afterRequest", function () { if (bar) bar.classList.remove("active"); });
  // Confirmation for destructive buttons: <button data-confirm="...">.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); event.stopPropagation(); }
  }, true);
})();
