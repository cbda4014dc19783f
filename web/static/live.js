"use strict";
// Calls in progress, refreshed every second from /api/live (no framework, no build step).
(function () {
  const body = document.querySelector("#live tbody");
  const ns = "http://www.w3.org/2000/svg";
  function cell(row, content) { const td = document.createElement("td"); if (content instanceof Node) td.appendChild(content); else td.textContent = content; row.appendChild(td); return td; }
  function spark(values) {
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark"); svg.setAttribute("viewBox", "0 0 100 30"); svg.setAttribute("preserveAspectRatio", "none");
    if (values.length) {
      const step = values.length > 1 ? 100 / (values.length - 1) : 0;
      const pts = values.map((v, i) => (i * step).toFixed(1) + "," + (30 - Math.max(0, Math.min(1, v)) * 30).toFixed(1));
      if (pts.length === 1) pts.push("100," + pts[0].split(",")[1]);
      const line = document.createElementNS(ns, "polyline"); line.setAttribute("points", pts.join(" ")); svg.appendChild(line);
    }
    return svg;
  }
  async function refresh() {
    try {
      const r = await fetch("/api/live", { credentials: "same-origin" });
      if (r.status === 401) { location.href = "/login?next=%2Flive"; return; }
      const data = await r.json();
      while (body.firstChild) body.removeChild(body.firstChild);
      document.getElementById("live-count").textContent = String(data.calls.length);
      if (!data.calls.length) { const tr = document.createElement("tr"); tr.className = "none"; const td = cell(tr, "No calls right now."); td.colSpan = 6; td.className = "muted"; body.appendChild(tr); }
      data.calls.forEach((c) => {
        const tr = document.createElement("tr"); tr.dataset.call = c.id;
        const a = document.createElement("a"); a.href = "/calls/" + c.id; a.textContent = c.id.slice(0, 8);
        cell(tr, a); cell(tr, c.caller || "—"); cell(tr, Math.round(c.seconds) + " s");
        const b = document.createElement("span"); b.className = "badge"; b.textContent = c.state; cell(tr, b);
        cell(tr, c.intent || "—");
        const f = document.createElement("span"); f.appendChild(spark(c.frustration));
        if (c.frustration.length) f.appendChild(document.createTextNode(" " + c.frustration[c.frustration.length - 1].toFixed(2)));
        cell(tr, f); body.appendChild(tr);
      });
      document.getElementById("live-status").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) { document.getElementById("live-status").textContent = "connection lost; retrying"; }
  }
  setInterval(refresh, 1000);
})();
