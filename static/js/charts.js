// Dashboard charts: Chart.js (vendored) fed from JSON embedded with {{ charts|json_script:"dash-charts" }}.
// <canvas data-chart="<key>"> picks its definition from the nearest #dash-charts JSON. No inline JS (CSP).
(function () {
  "use strict";
  var PALETTE = ["#1f5f8b", "#8fb8d6", "#1d7a46", "#d99a00", "#b42318", "#6b7280"];

  function readData(root) {
    var el = (root && root.querySelector && root.querySelector("#dash-charts")) || document.getElementById("dash-charts");
    if (!el) return {};
    try { return JSON.parse(el.textContent || "{}"); } catch (e) { return {}; }
  }

  function percentTick(value) { return value + "%"; }

  function build(canvas, spec) {
    if (!window.Chart || !spec) return;
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    var sparkline = !!spec.sparkline;
    var horizontal = !!spec.horizontal;
    var datasets = (spec.datasets || []).map(function (ds, i) {
      var colour = PALETTE[i % PALETTE.length];
      if (ds.target) {  // the target each period was judged by: a thin dashed step line, no fill
        return {
          label: ds.label, data: ds.data, borderColor: "#6b7280", backgroundColor: "transparent",
          borderWidth: 1.5, borderDash: [4, 3], pointRadius: 0, stepped: "middle", fill: false, spanGaps: true
        };
      }
      return {
        label: ds.label,
        data: ds.data,
        borderColor: colour,
        backgroundColor: spec.type === "line" ? "rgba(31, 95, 139, 0.08)" : colour,
        borderWidth: spec.type === "line" ? 2 : 0,
        pointRadius: sparkline ? 0 : 3,
        tension: 0.25,
        fill: spec.type === "line",
        spanGaps: true,
        borderRadius: spec.type === "bar" ? 3 : 0,
        maxBarThickness: 36
      };
    });
    var valueAxis = {
      beginAtZero: !sparkline,
      display: !sparkline,
      ticks: { precision: 0, callback: spec.percent ? percentTick : undefined, color: "#56606d" },
      grid: { color: "#eef0f3" }
    };
    if (spec.percent && !sparkline) valueAxis.suggestedMax = 100;
    var labelAxis = { display: !sparkline, ticks: { color: "#56606d", autoSkip: true, maxRotation: 0 }, grid: { display: false } };
    new window.Chart(canvas, {
      type: spec.type || "bar",
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: {
          legend: { display: !sparkline && datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { enabled: true }
        },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis }
      }
    });
  }

  function init(root) {
    root = root || document;
    var canvases = root.querySelectorAll ? root.querySelectorAll("canvas[data-chart]") : [];
    if (!canvases.length) return;
    var data = readData(root);
    Array.prototype.forEach.call(canvases, function (canvas) { build(canvas, data[canvas.getAttribute("data-chart")]); });
  }

  function ready() {
    if (window.Chart) {
      window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.font.size = 12;
      window.Chart.defaults.color = "#56606d";
    }
    init(document);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  // Keep the filter form in step with what the server actually applied (fallbacks included).
  function syncForm() {
    var results = document.getElementById("results");
    var form = document.querySelector("form.dash-filters");
    if (!results || !form || !results.dataset.period) return;
    if (form.elements.period) form.elements.period.value = results.dataset.period;
    if (form.elements.from) form.elements.from.value = results.dataset.start;
    if (form.elements.to) form.elements.to.value = results.dataset.end;
  }

  // Editing a date means a custom range: switch the period first (capture phase, before htmx sends).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || !el.form || !el.form.classList.contains("dash-filters")) return;
    if ((el.name === "from" || el.name === "to") && el.form.elements.period) el.form.elements.period.value = "custom";
  }, true);

  // htmx swapped in a new results fragment (filters, sorting, history): sync the form, draw its charts.
  document.addEventListener("htmx:afterSettle", function () { syncForm(); init(document); });
})();
