// The desk payment form: pay-in-full buttons fill the amount; for cash, the change (找零) is shown as the
// cashier types what the payer handed over. Fen are integers here too: no floating-point money.
(function () {
  var form = document.querySelector("[data-testid=desk-payment]");
  if (!form) return;
  var amount = form.querySelector("[name=amount]");
  var method = form.querySelector("[name=method]");
  var tendered = form.querySelector("[name=tendered]");
  var change = form.querySelector("[data-testid=change]");
  function toFen(text) {
    var m = String(text || "").replace(/[,，¥\s]/g, "").match(/^(\d+)(?:\.(\d{0,2}))?$/);
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function yuan(fen) {
    var neg = fen < 0; fen = Math.abs(fen);
    var y = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + "¥" + y + "." + String(fen % 100).padStart(2, "0");
  }
  function update() {
    var cash = method && method.value === "cash";
    form.querySelectorAll("[data-cash-only]").forEach(function (el) { el.hidden = !cash; });
    if (!change) return;
    var a = toFen(amount.value), t = toFen(tendered && tendered.value);
    if (a === null || t === null) { change.textContent = "—"; change.classList.remove("text-danger"); return; }
    change.textContent = t >= a ? yuan(t - a) : "不足 " + yuan(a - t);
    change.classList.toggle("text-danger", t < a);
  }
  form.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-fill-fen]");
    if (!b) return;
    amount.value = (parseInt(b.dataset.fillFen, 10) / 100).toFixed(2);
    update();
    (method && method.value === "cash" && tendered ? tendered : amount).focus();
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
