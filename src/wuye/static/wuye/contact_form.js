// The contact form shows the fields an outcome needs (promise date and amount, refusal reason, number of
// installments) once that outcome is chosen; without this script every field stays visible. A field with an
// error or a value always shows, so nothing typed is hidden.
(function () {
  "use strict";
  var form = document.querySelector('[data-testid="contact-form"]');
  if (!form) return;
  var outcome = form.querySelector('[name="outcome"]');
  if (!outcome) return;
  var parts = form.querySelectorAll("[data-for]");

  function filled(el) {
    var input = el.querySelector("input, select, textarea");
    if (!input) return false;
    if (input.type === "checkbox") return input.checked;
    return input.value !== "";
  }

  function sync() {
    for (var i = 0; i < parts.length; i++) {
      var el = parts[i];
      var wanted = el.getAttribute("data-for").split(" ").indexOf(outcome.value) >= 0;
      var show = wanted || el.querySelector(".invalid-feedback") !== null || filled(el);
      el.classList.toggle("d-none", !show);
    }
  }

  outcome.addEventListener("change", sync);
  sync();
})();
