// The voting page's plot: each voter of the panel on the first two principal components of
// the votes, coloured by opinion group (uPlot, static/vendor/uplot). The page's JSON block
// (#voting-data) holds the points; the support table is the plot's text alternative.
(function () {
  "use strict";
  var block = document.getElementById("voting-data");
  var el = document.querySelector('[data-chart="groups"]');
  if (!block || !el || typeof window.uPlot === "undefined") {
    return;
  }
  var data = JSON.parse(block.textContent);
  var groups = data.groups || [];
  if (!groups.length) {
    var p = document.createElement("p");
    p.className = "muted chart__empty";
    p.textContent = "No vote yet.";
    el.appendChild(p);
    el.dataset.drawn = "empty";
    return;
  }
  var COLORS = ["#3552c9", "#b4532a", "#2a8a4b", "#8a2a86", "#6b6b00"];
  // uPlot plots series over one sorted x: merge the groups' points, each group's series
  // holding its y at its own points and null elsewhere (points only, no lines).
  var points = [];
  groups.forEach(function (g, k) {
    g.x.forEach(function (x, i) { points.push([x, g.y[i], k]); });
  });
  points.sort(function (a, b) { return a[0] - b[0]; });
  var xs = points.map(function (pt) { return pt[0]; });
  var columns = [xs];
  groups.forEach(function (g, k) {
    columns.push(points.map(function (pt) { return pt[2] === k ? pt[1] : null; }));
  });
  var axis = { stroke: "#4a5565", grid: { stroke: "rgba(0,0,0,0.07)" } };
  var series = [{ label: "component 1" }];
  groups.forEach(function (g, k) {
    var color = COLORS[k % COLORS.length];
    series.push({
      label: "Group " + (g.group + 1) + " (" + g.x.length + ")",
      stroke: color,
      width: 0,
      paths: function () { return null; },
      points: { show: true, size: 8, stroke: color, fill: color },
    });
  });
  var opts = {
    width: Math.max(260, Math.floor(el.getBoundingClientRect().width) || 600),
    height: 320,
    scales: { x: { time: false } },
    series: series,
    axes: [Object.assign({ label: "component 1" }, axis), Object.assign({ label: "component 2" }, axis)],
    cursor: { drag: { x: false, y: false } },
  };
  new window.uPlot(opts, columns, el);
  el.dataset.drawn = "true";
})();
