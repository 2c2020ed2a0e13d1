/* Draws the reports' charts with the vendored Apache ECharts (static/vendor/echarts/).
   Each chart reads its spec from the <script type="application/json" data-chart-for=ID> beside it
   (built by web/report_view.py): categories, series with one value and one list link per category.
   Clicking a bar, point or slice opens the list of exactly the records it counts. The figures are
   also in the table next to the chart, which is what a screen reader reads. */
(function () {
  "use strict";
  var charts = [];

  function narrow(el) { return el.clientWidth < 560; }

  var compact = window.Intl && Intl.NumberFormat ? new Intl.NumberFormat(document.documentElement.lang || "en",
    { notation: "compact", maximumFractionDigits: 1 }) : null;
  function axisNumber(v) { return compact ? compact.format(v) : Number(v).toLocaleString(); }

  function percent(v) { return v === null || v === undefined ? "" : (v * 100).toFixed(1) + "%"; }

  function short(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function options(spec, el) {
    var series = spec.series || [];
    var share = series.length && series[0].share;
    var fmt = share ? percent : function (v) { return v === null ? "" : Number(v).toLocaleString(); };
    var base = {
      animation: false,
      tooltip: { trigger: spec.type === "pie" || spec.type === "funnel" ? "item" : "axis", confine: true,
                 valueFormatter: fmt },
      legend: series.length > 1 || (spec.type === "pie" && narrow(el)) ? { type: "scroll", bottom: 0 } : undefined,
      grid: { containLabel: true, left: 8, right: 48, top: 16, bottom: series.length > 1 ? 36 : 8 }
    };
    if (spec.type === "pie" || spec.type === "funnel") {
      var s = series[0] || { data: [] };
      base.series = [{
        type: spec.type, name: s.name, top: 8, bottom: 8, minSize: "12%", sort: "none",
        radius: spec.type === "pie" ? ["35%", "70%"] : undefined,
        // on a phone a pie's outside labels get cut: the legend below names the slices instead
        label: { show: !(spec.type === "pie" && narrow(el)),
                 formatter: function (p) { return short(p.name, 12) + "\n" + fmt(p.value); } },
        data: spec.categories.map(function (c, i) { return { name: c, value: s.data[i] }; })
      }];
      return base;
    }
    var sideways = spec.type !== "line" && (narrow(el) || spec.categories.length > 8);
    var catAxis = { type: "category", data: spec.categories, name: "",
                    axisLabel: { interval: 0, hideOverlap: true, width: sideways ? 96 : 80, overflow: "truncate",
                                 rotate: sideways || spec.categories.length <= 4 ? 0 : 30 } };
    var valAxis = { type: "value", axisLabel: { hideOverlap: true, formatter: share ? percent : axisNumber } };
    var whole = series.every(function (s) { return s.data.every(function (v) { return v === null || v % 1 === 0; }); });
    if (whole && !share) { valAxis.minInterval = 1; }  // counts: no ticks at 0.5
    if (sideways) { catAxis.inverse = true; }
    base.xAxis = sideways ? valAxis : catAxis;
    base.yAxis = sideways ? catAxis : valAxis;
    base.series = series.map(function (s) {
      return { type: spec.type === "line" ? "line" : "bar", name: s.name, data: s.data,
               stack: spec.type === "stacked_bar" ? "all" : undefined, cursor: "pointer",
               label: { show: series.length === 1 && spec.categories.length <= 12, position: sideways ? "right" : "top",
                        formatter: function (p) { return fmt(p.value); } } };
    });
    return base;
  }

  function draw(el) {
    var source = document.querySelector('script[data-chart-for="' + el.id + '"]');
    if (!source || !window.echarts) { return; }
    var spec = JSON.parse(source.textContent);
    var rows = spec.categories.length;
    if (narrow(el) && spec.type !== "pie" && spec.type !== "funnel" && spec.type !== "line") {
      el.style.height = Math.max(220, rows * 34 * Math.max(1, spec.series.length > 1 ? 1.4 : 1) + 40) + "px";
    }
    var old = window.echarts.getInstanceByDom(el);
    if (old) { old.dispose(); }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(options(spec, el));
    chart.on("click", function (p) {
      var s = spec.series[p.seriesIndex] || spec.series[0];
      var href = s && s.links ? s.links[p.dataIndex] : null;
      if (href) { window.location.href = href; }
    });
    el.setAttribute("data-drawn", "1");
    charts.push(chart);
  }

  function drawAll(root) { (root || document).querySelectorAll("[data-chart]").forEach(draw); }

  // ---- the report builder: the preview follows the form without a reload ----------------------
  function fields(form) {
    var out = [];
    new FormData(form).forEach(function (value, name) { if (value !== "") { out.push([name, value]); } });
    return out;
  }
  function mirror(form) {  // the save form posts what the builder holds now
    var save = document.querySelector("form[data-save-report]");
    if (!save) { return; }
    save.querySelectorAll("[data-mirror]").forEach(function (el) { el.remove(); });
    var before = save.querySelector(".field");
    fields(form).forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1]; input.setAttribute("data-mirror", "");
      save.insertBefore(input, before);
    });
  }
  function builder(form) {
    var timer, serial = 0;
    function refresh() {
      var query = new URLSearchParams(fields(form));
      var mine = ++serial;
      window.history.replaceState(null, "", form.action + "?" + query.toString());
      query.set("partial", "1");
      fetch(form.action + "?" + query.toString(), { credentials: "same-origin" }).then(function (answer) {
        return answer.text();
      }).then(function (html) {
        if (mine !== serial) { return; }  // a later change is on its way
        var box = document.createElement("div");
        box.innerHTML = html;
        var fresh = box.querySelector("#preview"), old = document.getElementById("preview");
        if (fresh && old) { old.replaceWith(fresh); drawAll(fresh); }
        mirror(form);
      });
    }
    form.addEventListener("change", function (e) {
      if (e.target.name === "entity") { return; }  // another entity: the whole form changes (a reload)
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
  }

  window.crmCharts = { drawAll: drawAll };
  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
    document.querySelectorAll("form[data-builder]").forEach(builder);
  });
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { if (!c.isDisposed()) { c.resize(); } }); }, 150);
  });
})();
