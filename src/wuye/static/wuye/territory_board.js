/* 责任区分配: drag a building or a floor onto a collector. The drop only fills in the assign form on the page
   and submits it, so the server does the same work with or without a mouse (the form is the fallback). */
(function () {
  "use strict";
  var form = document.getElementById("assign-form");
  if (!form) { return; }
  var MIME = "application/x-wuye-territory";

  function submit(building, floor, user) {
    form.elements.building.value = building;
    form.elements.floor.value = floor || "";
    form.elements.to_user.value = user || "none";
    form.submit();
  }

  document.querySelectorAll(".wy-drag").forEach(function (el) {
    el.addEventListener("dragstart", function (ev) {
      var data = JSON.stringify({ building: el.dataset.building, floor: el.dataset.floor || "" });
      ev.dataTransfer.setData(MIME, data);
      ev.dataTransfer.setData("text/plain", el.dataset.label || "");
      ev.dataTransfer.effectAllowed = "move";
      el.classList.add("wy-dragging");
      ev.stopPropagation(); // a floor inside a building card drags the floor, not the building
    });
    el.addEventListener("dragend", function () { el.classList.remove("wy-dragging"); });
  });

  document.querySelectorAll(".wy-drop").forEach(function (zone) {
    if (zone.dataset.disabled) { return; }
    zone.addEventListener("dragover", function (ev) {
      if (Array.prototype.indexOf.call(ev.dataTransfer.types, MIME) < 0) { return; }
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
      zone.classList.add("wy-over");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("wy-over"); });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      zone.classList.remove("wy-over");
      var raw = ev.dataTransfer.getData(MIME);
      if (!raw) { return; }
      var data = JSON.parse(raw);
      submit(data.building, data.floor, zone.dataset.user);
    });
  });
})();
