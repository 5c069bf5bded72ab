/* The manager's charts (ECharts, vendored). Data comes from the page's json_script; a click on a bar opens the
   list of units behind it. Chinese labels; sized to the column so a 375 px phone needs no horizontal scroll. */
(function () {
  "use strict";
  var el = document.getElementById("insights-data");
  if (!el || !window.echarts) { return; }
  var data = JSON.parse(el.textContent);
  var charts = [];
  var small = window.innerWidth < 576;

  function make(id, option, links) {
    var node = document.getElementById(id);
    if (!node) { return; }
    var chart = echarts.init(node, null, { renderer: "canvas", locale: "ZH" });
    option.grid = Object.assign({ left: 8, right: 16, top: 36, bottom: 8, containLabel: true }, option.grid || {});
    option.tooltip = option.tooltip || { trigger: "axis", confine: true };
    chart.setOption(option);
    if (links) {
      chart.on("click", function (p) {
        var url = links[p.dataIndex];
        if (url) { window.location.href = url; }
      });
    }
    charts.push(chart);
  }

  function pct(v) { return v == null ? "—" : v + "%"; }
  var rotate = small ? 45 : 0;

  make("chart-projects", {
    legend: { data: ["收费率", "目标"], top: 0 },
    xAxis: { type: "category", data: data.projects.labels, axisLabel: { rotate: rotate, interval: 0 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [
      { name: "收费率", type: "bar", data: data.projects.actual, cursor: "pointer" },
      { name: "目标", type: "line", data: data.projects.target, symbol: "diamond", symbolSize: 10,
        lineStyle: { type: "dashed" } }
    ]
  }, data.projects.links);

  make("chart-trend", {
    legend: { data: ["收费率", "户收费率", "清欠率"], top: 0 },
    xAxis: { type: "category", data: data.trend.labels, axisLabel: { rotate: rotate } },
    yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
    series: [
      { name: "收费率", type: "line", data: data.trend.collection, connectNulls: false },
      { name: "户收费率", type: "line", data: data.trend.household },
      { name: "清欠率", type: "line", data: data.trend.clearance }
    ]
  });

  make("chart-ageing", {
    xAxis: { type: "category", data: data.ageing.labels, axisLabel: { rotate: rotate, interval: 0 } },
    yAxis: { type: "value", name: "元" },
    series: [{ name: "欠费金额（元）", type: "bar", data: data.ageing.values, cursor: "pointer" }]
  }, data.ageing.links);

  make("chart-buildings", {
    grid: { left: 8 },
    xAxis: { type: "value", name: "元" },
    yAxis: { type: "category", inverse: true, data: data.buildings.labels,
             axisLabel: { width: small ? 90 : 160, overflow: "truncate" } },
    series: [{ name: "欠费合计（元）", type: "bar", data: data.buildings.values, cursor: "pointer" }]
  }, data.buildings.links);

  make("chart-collectors", {
    xAxis: { type: "category", data: data.collectors.labels, axisLabel: { rotate: rotate, interval: 0 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    tooltip: { trigger: "axis", confine: true, valueFormatter: pct },
    series: [{ name: "当期收费率", type: "bar", data: data.collectors.values, cursor: "pointer" }]
  }, data.collectors.links);

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.querySelectorAll("[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
}());
