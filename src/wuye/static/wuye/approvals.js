// The approvals page: select all on the page or one project's referrals, count what is selected, and make
// "all matching" mean exactly that (the page's boxes are then ignored by the server).
(function () {
  var form = document.getElementById("bulk");
  if (!form) return;
  var boxes = function () { return Array.prototype.slice.call(form.querySelectorAll("input[name=items]")); };
  var counter = form.querySelector("[data-testid=selected-count]");
  var scope = form.querySelector("input[name=scope]");
  function update() {
    var n = scope && scope.checked ? counter.dataset.total : boxes().filter(function (b) { return b.checked; }).length;
    if (counter) counter.querySelector("b").textContent = n;
  }
  form.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.dataset.select === "page") {
      boxes().forEach(function (b) { b.checked = t.checked; });
      form.querySelectorAll("[data-select=group], [data-select=page]").forEach(function (g) { g.checked = t.checked; });
    } else if (t.dataset.select === "group") {
      form.querySelectorAll("tr[data-group='" + t.dataset.group + "'] input[name=items]")
        .forEach(function (b) { b.checked = t.checked; });
    } else if (t === scope && t.checked) {
      boxes().forEach(function (b) { b.checked = true; });
    }
    update();
  });
  update();
})();
