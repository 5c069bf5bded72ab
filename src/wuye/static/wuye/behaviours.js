// Small page behaviours without inline event handlers (the Content-Security-Policy allows no inline script):
//   <select data-autosubmit>                 submits its form when changed
//   <select data-autosubmit data-autosubmit-clear="building">   …after clearing that field of the form
//   <button data-print>                      prints the page
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
})();
