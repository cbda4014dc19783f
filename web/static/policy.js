"use strict";
// The what-if button: the form as it stands, replayed over the stored calls by the server.
(function () {
  const form = document.getElementById("policy-form");
  const out = document.getElementById("whatif-result");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function pct(v) { return v == null ? "—" : (100 * v).toFixed(1) + " %"; }
  document.getElementById("whatif").addEventListener("click", async () => {
    while (out.firstChild) out.removeChild(out.firstChild);
    out.appendChild(el("p", "Replaying…", "muted"));
    const body = new URLSearchParams(new FormData(form));
    form.querySelectorAll('input[type="checkbox"]').forEach((c) => { if (!c.checked) body.set(c.name, "false"); });
    const r = await fetch("/policy/whatif", { method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    const data = await r.json();
    while (out.firstChild) out.removeChild(out.firstChild);
    if (!r.ok) { out.appendChild(el("p", data.detail || ("error " + r.status), "error")); return; }
    const t = el("table"); t.id = "whatif-table";
    [["Calls replayed", data.calls, data.calls],
     ["Transferred", data.transferred_before, data.transferred_after],
     ["Containment", pct(data.containment_before), pct(data.containment_after)]].forEach(([name, a, b], i) => {
      const tr = el("tr"); tr.appendChild(el("th", name)); tr.appendChild(el("td", i ? "now " + a : String(a)));
      if (i) tr.appendChild(el("td", "→ proposed " + b)); t.appendChild(tr);
    });
    out.appendChild(t);
    out.appendChild(el("p", data.changed.length + " call(s) change:", "ok"));
    const c = el("table"); c.id = "whatif-changed";
    const h = el("tr"); ["Call", "Was", "Would be", "At turn"].forEach((x) => h.appendChild(el("th", x))); c.appendChild(h);
    data.changed.forEach((x) => {
      const tr = el("tr"); const a = el("a", x.call_id.slice(0, 8)); a.href = "/calls/" + x.call_id;
      const td = el("td"); td.appendChild(a); tr.appendChild(td);
      tr.appendChild(el("td", x.before ? "transferred (" + x.before + ")" : "kept by the bot"));
      tr.appendChild(el("td", x.after ? "transferred (" + x.after + ")" : "kept by the bot"));
      tr.appendChild(el("td", x.after_turn == null ? "" : String(x.after_turn + 1))); c.appendChild(tr);
    });
    out.appendChild(c);
  });
})();
