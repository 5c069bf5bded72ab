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
// The visit photo: the chosen file's name under our own button (the browser's file button is hidden).
document.addEventListener("change", function (e) {
  var input = e.target;
  if (!input.matches || !input.matches('input[type="file"]')) return;
  var shown = document.querySelector('[data-photo-name="' + input.id + '"]');
  if (shown) shown.textContent = input.files.length ? "已选择：" + input.files[0].name : "未选择照片";
});
