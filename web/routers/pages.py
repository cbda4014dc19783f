"""The panel's call pages: one call's detail (transcript with each turn's frustration and what
drove it, the decision, transfer attempts, summary, dispositions) and the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from statistics import median

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from store.views import frustration_at_transfer
from web.auth import Principal
from web.charts import histogram
from web.dependencies import PageUser, StoreDep
from web.templating import render

router = APIRouter(include_in_schema=False)  # HTML for people; the OpenAPI spec is the JSON API's


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_page(request: Request, call_id: str, store: StoreDep, who: Principal = Depends(PageUser())) -> HTMLResponse:
    call = store.get_call(call_id)
    if call is None:
        raise HTTPException(404, f"No call {call_id}.")
    if not who.can("calls.read") and call.get("agent") != who.name:
        raise HTTPException(403, "Agents see only the calls they took.")
    call["dispositions"] = store.accounts.dispositions(call_id)
    lines = [{"at": t["start"], "speaker": "caller", "text": t["text"], "intent": t["intent"],
              "frustration": t["frustration"]["smoothed"], "turn": t["frustration"], "n": i}
             for i, t in enumerate(call["turns"])]
    lines += [{"at": b.get("start"), "speaker": "bot", "text": b["text"], "interrupted": b.get("interrupted"),
               "intent": None, "frustration": None, "turn": None} for b in call["bot_replies"]]
    lines.sort(key=lambda x: (x["at"] is None, x["at"] or 0.0))
    return render(request, "call.html", who, nav="live", call=call, transcript=lines,
                  frustration=[t["frustration"]["smoothed"] for t in call["turns"]],
                  trajectory=[t["frustration"] for t in call["turns"]])


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, store: StoreDep, days: int = 7,
              who: Principal = Depends(PageUser("metrics.read"))) -> HTMLResponse:
    days = max(1, min(int(days), 3650))
    since = datetime.now(timezone.utc) - timedelta(days=days)
    m = store.metrics(since)
    ttt = m["time_to_transfer"]
    fr = frustration_at_transfer(store.engine, since)
    outcomes = m["outcomes"]
    return render(
        request, "dashboard.html", who, nav="dashboard", days=days, m=m,
        ended=sum(n for o, n in outcomes.items() if o != "in_progress"),
        outcomes=sorted(outcomes.items()),
        escalations=sorted(m["escalations_by_reason"].items(), key=lambda kv: -kv[1]),
        ttt=ttt, ttt_median=median(ttt) if ttt else None,
        ttt_hist=histogram(ttt, [0, 5, 10, 20, 30, 60, 120, 600], "{:g}–{:g} s") if ttt else [],
        transfers=[("answered", m["transfers"]["answered"]), ("abandoned", m["transfers"]["abandoned"]),
                   ("pending", m["transfers"]["pending"])],
        frustration_hist=histogram(fr, [0, .2, .4, .6, .8, 1.0], "{:.1f}–{:.1f}") if fr else [],
        survey=[(f"{s} ★", n) for s, n in m["survey"]["distribution"].items()],
    )
