// Streams a running ops action's output into the page (server-sent events), then reloads
// the page once the run has ended so its final state, exit code and kept output show.
(function () {
  var out = document.getElementById("output");
  if (!out || out.dataset.live !== "true" || !window.EventSource) return;
  var source = new EventSource("/ops/runs/" + out.dataset.run + "/stream?after=" + (out.dataset.seq || "0"));
  source.addEventListener("output", function (e) {
    out.textContent += JSON.parse(e.data);
    out.scrollTop = out.scrollHeight;
  });
  source.addEventListener("end", function (e) {
    source.close();
    var state = document.getElementById("run-state");
    if (state) state.textContent = JSON.parse(e.data);
    window.location.reload();
  });
})();
