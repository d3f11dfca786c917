// The dashboard's progressive parts: the history chart (uPlot, served by this instance) and the progress of
// "Sync now". Without JavaScript the page still shows every number, and the sync button still works.
(function () {
  "use strict";

  function drawChart() {
    var holder = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (data.t.length === 0) {
      holder.textContent = "No history yet: it fills in as sources sync.";
      holder.setAttribute("data-drawn", "0");
      return;
    }
    var values = data.v.map(Number); // for drawing only; the exact figures are on the page
    var width = Math.max(holder.clientWidth, 280);
    var options = {
      width: width,
      height: 240,
      scales: { x: { time: true, range: [data.start, data.end] } },
      series: [{}, { label: "Net worth (" + data.quote + ")", stroke: "#0b5cad", width: 2, fill: "rgba(11,92,173,0.08)" }],
      axes: [{}, { size: 70 }],
      legend: { show: true },
    };
    var plot = new uPlot(options, [data.t, values], holder);
    holder.setAttribute("data-drawn", String(data.t.length));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(holder.clientWidth, 280), height: 240 });
    });
  }

  function followSync() {
    var progress = document.getElementById("sync-progress");
    if (!progress || progress.getAttribute("data-running") !== "true" && !/[?&]sync=started/.test(location.search)) return;
    function poll() {
      fetch("/sync/progress", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (status) {
          if (status.running) {
            progress.textContent = "Sync running… " + status.syncing + " of " + status.sources + " sources in progress.";
            setTimeout(poll, 1000);
          } else {
            progress.textContent = "Sync finished.";
            progress.setAttribute("data-finished", "true");
            setTimeout(function () { location.replace("/"); }, 800);
          }
        })
        .catch(function () { progress.textContent = "Could not follow the sync; reload the page."; });
    }
    poll();
  }

  drawChart();
  followSync();
})();
