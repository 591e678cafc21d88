// The red-team campaign chart: uPlot (static/vendor/uplot) draws each category's success
// rate (bars) and its 95% interval (the two lines) from the page's JSON block
// (#redteam-data). The table below it holds every number; without JavaScript it remains.
(function () {
  "use strict";
  var block = document.getElementById("redteam-data");
  if (!block || typeof window.uPlot === "undefined") {
    return;
  }
  var uPlot = window.uPlot;
  var data = JSON.parse(block.textContent);
  var style = getComputedStyle(document.documentElement);
  function color(name, fallback) {
    var value = style.getPropertyValue(name).trim();
    return value || fallback;
  }
  var ACCENT = color("--accent", "#3552c9");
  var SECOND = color("--b", "#b4532a");
  var TEXT = color("--text-2", "#4a5565");

  function widthOf(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width) || 600);
  }

  function axis(extra) {
    var base = { stroke: TEXT, grid: { stroke: "rgba(0,0,0,0.07)" }, ticks: { stroke: "rgba(0,0,0,0.15)" } };
    return Object.assign(base, extra || {});
  }

  var charts = [];
  document.querySelectorAll('[data-chart="redteam-rates"]').forEach(function (el) {
    var attempted = data.rate.some(function (r) { return r !== null; });
    if (!attempted) {
      var p = document.createElement("p");
      p.className = "muted chart__empty";
      p.textContent = "No attempt yet.";
      el.appendChild(p);
      el.dataset.drawn = "empty";
      return;
    }
    var xs = data.categories.map(function (_, i) { return i; });
    var opts = {
      width: widthOf(el),
      height: 240,
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] }, y: { range: [0, 1] } },
      series: [
        {},
        { label: "Success rate", fill: ACCENT, stroke: ACCENT,
          paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } },
        { label: "95% lower", stroke: SECOND, width: 0, points: { show: true, size: 6, fill: SECOND } },
        { label: "95% upper", stroke: SECOND, width: 0, points: { show: true, size: 6, fill: SECOND } },
      ],
      axes: [
        axis({ splits: function () { return xs; }, values: function (_, splits) {
          return splits.map(function (i) { return data.categories[i] === undefined ? "" : String(data.categories[i]); });
        } }),
        axis({ values: function (_, splits) {
          return splits.map(function (v) { return Math.round(v * 100) + "%"; });
        } }),
      ],
    };
    charts.push([el, new uPlot(opts, [xs, data.rate, data.lower, data.upper], el)]);
    el.dataset.drawn = "true";
  });

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) {
      window.clearTimeout(pending);
    }
    pending = window.setTimeout(function () {
      charts.forEach(function (pair) {
        pair[1].setSize({ width: widthOf(pair[0]), height: pair[1].height });
      });
    }, 150);
  });
})();
