// The manager's dashboard charts: uPlot (static/vendor/uplot) draws what the page's JSON
// block (#dashboard-data) holds. Every number is also in the page's tables, which are the
// charts' text alternative; without JavaScript the tables remain.
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
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
  var charts = [];

  function widthOf(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width) || 600);
  }

  function axis(extra) {
    var base = { stroke: TEXT, grid: { stroke: "rgba(0,0,0,0.07)" }, ticks: { stroke: "rgba(0,0,0,0.15)" } };
    return Object.assign(base, extra || {});
  }

  function empty(el, message) {
    var p = document.createElement("p");
    p.className = "muted chart__empty";
    p.textContent = message;
    el.appendChild(p);
    el.dataset.drawn = "empty";
  }

  function progressChart(el) {
    var p = data.progress;
    if (!p || !p.t.length) {
      empty(el, "No answer in the last 7 days.");
      return;
    }
    var opts = {
      width: widthOf(el),
      height: 240,
      scales: { x: { time: true, range: [p.from, p.to] }, items: { auto: true } },
      series: [
        {},
        { label: "Answers per hour", stroke: ACCENT, fill: "rgba(53,82,201,0.12)", width: 2,
          paths: uPlot.paths.stepped({ align: 1 }) },
        { label: "Items complete", stroke: SECOND, width: 2, scale: "items", spanGaps: true,
          points: { show: true, size: 5 } },
      ],
      axes: [axis(), axis({ label: "answers" }), axis({ side: 1, scale: "items", label: "items", grid: { show: false } })],
    };
    charts.push([el, new uPlot(opts, [p.t, p.answers, p.complete], el)]);
    el.dataset.drawn = "true";
  }

  function distributionChart(el) {
    var key = el.dataset.channel;
    var channel = (data.channels || []).filter(function (c) { return c.key === key; })[0];
    if (!channel) {
      empty(el, "No answers.");
      return;
    }
    var xs = channel.classes.map(function (_, i) { return i; });
    var bars = uPlot.paths.bars({ size: [0.35, 60], align: 0 });
    var opts = {
      width: widthOf(el),
      height: 180,
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] } },
      series: [
        {},
        { label: "Answers", fill: ACCENT, stroke: ACCENT, paths: uPlot.paths.bars({ size: [0.35, 60], align: -1 }), points: { show: false } },
        { label: "Consensus", fill: SECOND, stroke: SECOND, paths: bars, points: { show: false } },
      ],
      axes: [
        axis({ splits: function () { return xs; }, values: function (_, splits) {
          return splits.map(function (i) { return channel.classes[i] === undefined ? "" : String(channel.classes[i]); });
        } }),
        axis(),
      ],
    };
    charts.push([el, new uPlot(opts, [xs, channel.answers, channel.consensus], el)]);
    el.dataset.drawn = "true";
  }

  document.querySelectorAll('[data-chart="progress"]').forEach(progressChart);
  document.querySelectorAll('[data-chart="distribution"]').forEach(distributionChart);

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
