// Small page behaviours without inline event handlers (the Content-Security-Policy allows no inline script):
//   <select data-autosubmit>                 submits its form when changed
//   <select data-autosubmit data-autosubmit-clear="building">   …after clearing that field of the form
//   <button data-print>                      prints the page
//   a form with a one-time key ({% once_field %}) shows its submit buttons as busy once sent; the server
//   records a second copy once anyway (wuye.common.once) — this only spares the owner of the finger a surprise
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-autosubmit") || !el.form) return;
    var clear = el.getAttribute("data-autosubmit-clear");
    if (clear && el.form.elements[clear]) el.form.elements[clear].value = "";
    el.form.submit();
  });
  document.addEventListener("click", function (event) {
    var el = event.target && event.target.closest ? event.target.closest("[data-print]") : null;
    if (el) window.print();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.elements || !form.elements._once || event.defaultPrevented) return;
    // after this tick, so the clicked button's own name and value still go with the form
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"), function (b) {
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
      });
    }, 0);
  });
  window.addEventListener("pageshow", function (event) {  // back to a page kept whole by the browser
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("button[aria-busy=true]"), function (b) {
      b.disabled = false;
      b.removeAttribute("aria-busy");
    });
  });
})();
