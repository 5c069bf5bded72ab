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

  // A project billed every 3 or 6 months has no 收费率 in the months between its bills: its bar is missing, so
  // its label and tooltip say why (本月无账单), never a silent gap.
  var projectNoBill = data.projects.nobill || [];
  function withNoBill(notes) {
    return function (params) {
      var first = params[0] || {};
      var note = notes[first.dataIndex];
      var lines = [first.axisValueLabel || first.name];
      if (note) { lines.push(note); }
      params.forEach(function (p) {
        if (p.value != null) { lines.push(p.marker + p.seriesName + "：" + p.value + "%"); }
      });
      return lines.join("<br>");
    };
  }

  make("chart-projects", {
    legend: { data: ["收费率", "目标"], top: 0 },
    tooltip: { trigger: "axis", confine: true, formatter: withNoBill(projectNoBill) },
    xAxis: { type: "category", data: data.projects.labels,
             axisLabel: { rotate: rotate, interval: 0, formatter: function (v, i) {
               return projectNoBill[i] ? v + "\n（无账单）" : v; } } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [
      { name: "收费率", type: "bar", data: data.projects.actual, cursor: "pointer" },
      { name: "目标", type: "line", data: data.projects.target, symbol: "diamond", symbolSize: 10,
        lineStyle: { type: "dashed" } }
    ]
  }, data.projects.links);

  // Months with figures but no bill (quarterly / half-yearly billing): a dashed line labelled 无账单 where the
  // rate would be, and the reason in the tooltip; a click on a month opens the units behind its figures.
  var trendNoBill = data.trend.nobill || [];
  var noBillMarks = [];
  trendNoBill.forEach(function (note, i) {
    if (note) { noBillMarks.push({ xAxis: data.trend.labels[i] }); }
  });
  make("chart-trend", {
    legend: { data: ["收费率", "户收费率", "清欠率"], top: 0 },
    tooltip: { trigger: "axis", confine: true, formatter: withNoBill(trendNoBill) },
    xAxis: { type: "category", data: data.trend.labels, axisLabel: { rotate: rotate } },
    yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
    series: [
      { name: "收费率", type: "line", data: data.trend.collection, connectNulls: false, cursor: "pointer",
        markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#adb5bd" },
                    label: { formatter: "无账单", position: "insideEndTop", color: "#6c757d" },
                    data: noBillMarks } },
      { name: "户收费率", type: "line", data: data.trend.household },
      { name: "清欠率", type: "line", data: data.trend.clearance }
    ]
  }, data.trend.links);

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
