// Taking an assessment: how many questions are answered, and the time left (the server decides;
// this only shows it and sends the answers when it runs out). No answers are known here.
(function () {
  "use strict";
  var form = document.querySelector("[data-assessment-form]");
  if (!form) { return; }
  var questions = form.querySelectorAll("[data-question]");
  var answeredEl = document.querySelector("[data-answered]");
  var progress = document.querySelector("[data-progress]");

  function answered(fieldset) {
    var inputs = fieldset.querySelectorAll("input");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if ((input.type === "radio" || input.type === "checkbox") ? input.checked : input.value.trim() !== "") { return true; }
    }
    return false;
  }
  function update() {
    var n = 0;
    for (var i = 0; i < questions.length; i++) { if (answered(questions[i])) { n++; } }
    if (answeredEl) { answeredEl.textContent = String(n); }
    if (progress) { progress.value = n; }
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();

  var sent = false;
  form.addEventListener("submit", function () { sent = true; });

  var timer = document.querySelector("[data-remaining]");
  if (!timer) { return; }
  var clock = timer.querySelector("[data-clock]");
  var ends = Date.now() + parseInt(timer.getAttribute("data-remaining"), 10) * 1000;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    clock.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    if (left <= 60) { timer.classList.add("assessment-timer-low"); }
    if (left === 0) {
      window.clearInterval(handle);
      var notice = document.querySelector("[data-timeup]");
      if (notice) { notice.hidden = false; }
      if (!sent) { sent = true; form.submit(); }
    }
  }
  var handle = window.setInterval(tick, 1000);
  tick();
})();
