// One tap to call: a button marked data-dial reveals the number (logged on the server) and dials it at once.
document.body.addEventListener("htmx:afterSwap", function (e) {
  var source = e.detail.requestConfig && e.detail.requestConfig.elt;
  if (!source || !source.hasAttribute("data-dial")) return;
  var link = e.detail.target.querySelector('a[href^="tel:"]');
  if (link) { source.hidden = true; window.location.href = link.href; }
});
// Copy the pay link on the doorstep page.
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (field && navigator.clipboard) { navigator.clipboard.writeText(field.value); button.textContent = "已复制"; }
});
