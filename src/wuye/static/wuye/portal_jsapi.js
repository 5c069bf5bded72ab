// 微信内支付 (JSAPI) on the order page: WeChat's own bridge, no library. The parameters come from the
// json_script element #wx-pay-params; the button #jsapi-pay carries the page to go to when paid.
(function () {
  // JSAPI payment: WeChat's own bridge, no library; it may appear only after the page (WeixinJSBridgeReady)
  var params = JSON.parse(document.getElementById("wx-pay-params").textContent);
  var button = document.getElementById("jsapi-pay");
  var busy = false;
  function show(id, on) { document.getElementById(id).classList.toggle("d-none", !on); }
  function pay() {
    if (busy || typeof WeixinJSBridge === "undefined") return;
    busy = true;
    WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
      busy = false;
      var msg = (res && res.err_msg) || "";
      show("jsapi-waiting", false);
      if (msg === "get_brand_wcpay_request:ok") { window.location.replace(button.dataset.done); return; }
      show("jsapi-cancel", msg === "get_brand_wcpay_request:cancel");
      show("jsapi-fail", msg !== "get_brand_wcpay_request:cancel");
      show("jsapi-fallback", true);
    });
  }
  button.addEventListener("click", pay);
  if (typeof WeixinJSBridge === "undefined") { document.addEventListener("WeixinJSBridgeReady", pay, false); }
  else { pay(); }
})();
