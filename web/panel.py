"""The web panel's pages: sign-in, live view, call detail, metrics, policy editor with what-if,
and the audited change history with rollback. Server-rendered (Jinja2, autoescaped) with a little
plain JavaScript from /static; no build step. Pages check roles through ``web.auth``; every
form that changes something carries the session's CSRF token.

    add_panel_routes(app, store, auth)
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from statistics import median
from typing import Any, Iterable, Mapping

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlu.fusion import PART_NAMES
from web.api import merged_policy, rollback_to, save_policy_document
from web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL, Auth, PageRedirect, Principal, safe_next
from routing.policy import PolicyError
from store import Store
from store.views import frustration_at_transfer, live_calls, replay_inputs
from routing.whatif import what_if

log = logging.getLogger("web.panel")

WEB = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


@dataclass(frozen=True)
class Field:
    path: str  # where it sits in the policy document
    label: str
    kind: str  # number01, int, seconds, bool, list
    help: str


FIELDS = (
    Field("frustration.threshold", "Frustration threshold", "number01",
          "Smoothed frustration (0–1) that counts as frustrated. Lower transfers sooner."),
    Field("frustration.turns", "…for this many turns", "int",
          "Caller turns in a row at or above the threshold before a transfer (1 or more)."),
    Field("frustration.ceiling", "Frustration ceiling", "number01",
          "One turn's raw score at or above this transfers at once (0–1; 1 switches it off in practice)."),
    Field("frustration.corroborate", "…only if two parts agree", "bool",
          "The ceiling acts on one turn only when the score holds without its strongest part (words, voice, "
          "dialogue); a spike in one alone (a misheard sentence, an unusual voice) waits for the two-turn rule."),
    Field("explicit_request", "Caller asks for a person", "bool", "Transfer when the caller asks for an agent."),
    Field("dtmf_zero", "Caller presses 0", "bool", "Transfer when the caller presses 0 on the keypad."),
    Field("sensitive_intents", "Human-only topics", "list",
          "Intents only a person handles, comma-separated (e.g. fraud_stolen_card, complaint)."),
    Field("max_no_match", "Not understood, in a row", "int", "Turns the bot did not understand before a transfer."),
    Field("max_no_input", "Silences, in a row", "int", "Times the caller said nothing before a transfer."),
    Field("max_bot_seconds", "Most time with the bot", "seconds", "Seconds with the bot before a person takes over."),
    Field("always_human_tiers", "Tiers that always get a person", "list",
          "Customer tiers sent straight to an agent, comma-separated (e.g. platinum). Empty for none."),
)


def policy_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The policy document as the form shows it."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        v: Any = doc
        for part in f.path.split("."):
            v = v.get(part) if isinstance(v, Mapping) else None
        out[f.path] = ", ".join(v) if f.kind == "list" and isinstance(v, list) else v
    return out


def form_to_policy_doc(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's text fields → a policy document; PolicyError naming the field when one is not a
    number. Range checks are the policy's own (``Policy.__post_init__``)."""
    doc: dict[str, Any] = {"frustration": {}}
    for f in FIELDS:
        raw = (form.get(f.path) or "").strip()
        if f.kind == "bool":
            value: Any = raw.lower() in ("true", "on", "1", "yes")
        elif f.kind == "list":
            value = [x.strip() for x in raw.replace("\n", ",").split(",") if x.strip()]
        else:
            try:
                value = int(raw) if f.kind == "int" else float(raw)
            except ValueError:
                what = "a whole number" if f.kind == "int" else "a number"
                raise PolicyError(f"{f.path}: must be {what} (got {raw!r})") from None
        head, _, tail = f.path.partition(".")
        if tail:
            doc[head][tail] = value
        else:
            doc[head] = value
    return doc


def spark(values: Iterable[float | None]) -> Markup:
    """A frustration sparkline as inline SVG (no script; the CSP allows none inline)."""
    vals = [max(0.0, min(1.0, float(v))) for v in values if v is not None]
    pts = [f"{(i * 100 / (len(vals) - 1)) if len(vals) > 1 else 0:.1f},{30 - v * 30:.1f}" for i, v in enumerate(vals)]
    if len(pts) == 1:
        pts.append(f"100,{pts[0].split(',')[1]}")
    line = f'<polyline points="{" ".join(pts)}"/>' if pts else ""
    return Markup(f'<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" '
                  f'aria-label="frustration per turn">{line}</svg>')


def _part_words(fr: Mapping[str, Any]) -> str:
    """"turn 2: 0.64 (smoothed 0.51); voice +1.20, words +0.30, dialogue 0.00" for a tooltip."""
    score, smoothed = fr.get("score"), fr.get("smoothed")
    out = f"{score:.2f}" if isinstance(score, (int, float)) else "no score"
    if isinstance(smoothed, (int, float)):
        out += f" (smoothed {smoothed:.2f})"
    parts = fr.get("parts")
    if isinstance(parts, Mapping):
        out += "; " + ", ".join(f"{name} {float(parts[key]):+.2f}" for key, name in PART_NAMES.items()
                                if isinstance(parts.get(key), (int, float)))
    return out


def turn_bar(fr: Mapping[str, Any] | None, index: int | None = None) -> Markup:
    """One caller turn's frustration: a small bar as tall as the turn's score, coloured by the part
    that drove it (class ``drove-voice``, ``drove-words``, ``drove-dialogue``; ``drove-none`` when no
    part added anything or the turn was stored without its parts), its score and that part's name.
    SVG attributes only: the CSP allows no inline style."""
    fr = fr if isinstance(fr, Mapping) else {}
    score = fr.get("score")
    value = max(0.0, min(1.0, float(score))) if isinstance(score, (int, float)) else 0.0
    name = fr.get("drove") if fr.get("drove") in PART_NAMES.values() else None
    h = round(value * 24, 1)
    shown = f"{value:.2f}" if isinstance(score, (int, float)) else "—"
    title = (f"turn {index + 1}: " if index is not None else "") + _part_words(fr)
    return Markup(f'<span class="turnbar drove-{name or "none"}" title="{escape(title)}">'
                  f'<svg viewBox="0 0 8 24" width="8" height="24" aria-hidden="true">'
                  f'<rect x="0" y="{24 - h:.1f}" width="8" height="{h:.1f}"/></svg>'
                  f'<b>{shown}</b> <small>{escape(name or "—")}</small></span>')


def turn_strip(trajectory: Iterable[Mapping[str, Any]]) -> Markup:
    """The per-turn strip: one `turn_bar` per caller turn, in order."""
    items = [f"<li>{turn_bar(fr, i)}</li>" for i, fr in enumerate(trajectory)]
    if not items:
        return Markup('<span class="muted">no turns yet</span>')
    return Markup(f'<ol class="strip" aria-label="frustration per turn and what drove it">{"".join(items)}</ol>')


def bars(items: Iterable[tuple[str, float]]) -> Markup:
    """A horizontal bar chart as inline SVG; labels escaped."""
    items = [(str(k), float(v)) for k, v in items]
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    top = max((v for _, v in items), default=0) or 1.0
    row, width, label_w = 22, 460, 150
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row
        w = (width - label_w - 50) * value / top
        shown = f"{value:g}"
        parts.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="14"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(shown)}</text>')
    height = row * len(items)
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>')


def histogram(values: list[float], edges: list[float], fmt: str) -> list[tuple[str, float]]:
    out = []
    for lo, hi in zip(edges, edges[1:]):
        n = sum(1 for v in values if lo <= v < hi or (hi == edges[-1] and v == hi))
        out.append((fmt.format(lo, hi), n))
    return out


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        raise PolicyError(f"period: {value!r} is not a date (YYYY-MM-DD)") from None


def add_panel_routes(app: FastAPI, store: Store, auth: Auth) -> None:
    templates = Jinja2Templates(directory=str(WEB / "templates"))
    templates.env.filters["spark"] = spark
    templates.env.filters["bars"] = bars
    templates.env.filters["turn_bar"] = turn_bar
    templates.env.filters["turn_strip"] = turn_strip
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    pages = APIRouter(include_in_schema=False)  # HTML for people; the OpenAPI spec is the JSON API's

    def render(request: Request, template: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        resp = templates.TemplateResponse(request, template, {"who": who, **ctx}, status_code=status)
        resp.headers.update({"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})
        return resp

    @app.exception_handler(PageRedirect)
    async def _to_login(request: Request, exc: PageRedirect) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """HTML for people, JSON for the API (FastAPI's own shape)."""
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return render(request, "error.html", auth.principal(request), exc.status_code,
                      code=exc.status_code, message=exc.detail)

    async def form_of(request: Request, who: Principal) -> dict[str, str]:
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
        auth.check_csrf(request, who, data.get("csrf"))
        return data

    # ---------------------------------------------------------------- sign-in
    @pages.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        resp = render(request, "login.html", None, csrf=token, next=safe_next(next), error=None)
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
        return resp

    @pages.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name") or "")[:64], str(form.get("password") or "")[:1024]
        target = safe_next(str(form.get("next") or "/"))
        given, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        token = secrets.token_urlsafe(24)

        def again(status: int, error: str, headers: dict[str, str] | None = None) -> HTMLResponse:
            resp = render(request, "login.html", None, status, csrf=token, next=target, error=error, name=name)
            resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                            secure=request.url.scheme == "https")
            resp.headers.update(headers or {})
            return resp

        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            return again(403, "The sign-in form expired; please try again.")
        client = request.client.host if request.client else "?"
        result = auth.sign_in(client, name, password)
        if isinstance(result, float):
            wait = int(result) + 1
            log.warning("sign-in throttled for %s", client)
            return again(429, f"Too many failed sign-ins. Try again in {wait} s.", {"Retry-After": str(wait)})
        if result is None:
            log.info("sign-in refused from %s", client)
            return again(401, "Wrong user name or password.")
        cookie, _csrf = result
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", path="/",
                        max_age=int(SESSION_TTL.total_seconds()), secure=request.url.scheme == "https")
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        log.info("signed in: %s", name)
        return resp

    @pages.post("/logout", response_model=None)
    async def logout(request: Request, who: Principal = Depends(auth.page())) -> Response:
        await form_of(request, who)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            store.accounts.end_session(cookie)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @pages.get("/", response_model=None)
    def home(who: Principal = Depends(auth.page())) -> Response:
        return RedirectResponse("/desktop" if who.role == "agent" else "/live", status_code=303)

    # ---------------------------------------------------------------- calls
    @pages.get("/live", response_class=HTMLResponse)
    def live_page(request: Request, who: Principal = Depends(auth.page("live.read"))) -> HTMLResponse:
        return render(request, "live.html", who, nav="live", live=live_calls(store.engine),
                      recent=store.list_calls(25))

    @pages.get("/calls/{call_id}", response_class=HTMLResponse)
    def call_page(request: Request, call_id: str, who: Principal = Depends(auth.page())) -> HTMLResponse:
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

    @pages.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request, days: int = 7, who: Principal = Depends(auth.page("metrics.read"))) -> HTMLResponse:
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

    # ---------------------------------------------------------------- policy
    def policy_page(request: Request, who: Principal, status: int = 200, *, values: dict | None = None,
                    error: str | None = None, error_field: str | None = None, saved: int | None = None) -> HTMLResponse:
        version, policy = store.current_policy()
        today = date.today()
        return render(request, "policy.html", who, status, nav="policy", fields=FIELDS, version=version,
                      values=values or policy_values(policy.to_dict()), can_edit=who.can("policy.write"),
                      error=error, error_field=error_field, saved=saved,
                      since=(today - timedelta(days=7)).isoformat(), until=today.isoformat())

    @pages.get("/policy", response_class=HTMLResponse)
    def policy_get(request: Request, saved: int | None = None,
                   who: Principal = Depends(auth.page("policy.read"))) -> HTMLResponse:
        return policy_page(request, who, saved=saved)

    @pages.post("/policy", response_model=None)
    async def policy_post(request: Request, who: Principal = Depends(auth.page("policy.write"))) -> Response:
        form = await form_of(request, who)
        shown = {f.path: form.get(f.path, "") if f.kind != "bool" else form.get(f.path) == "true" for f in FIELDS}
        try:
            doc = form_to_policy_doc(form)
            version = int(form.get("version") or 0) or None
        except (PolicyError, ValueError) as exc:
            return policy_page(request, who, 422, values=shown, error=str(exc), error_field=str(exc).split(":")[0])
        if version is not None:
            doc["version"] = version
        result = save_policy_document(store, doc, who, (form.get("comment") or None), whole=True)
        if isinstance(result, JSONResponse):
            import json

            body = json.loads(bytes(result.body))
            return policy_page(request, who, result.status_code, values=shown, error=body["detail"],
                               error_field=body.get("field"))
        return RedirectResponse(f"/policy?saved={result['version']}", status_code=303)

    @pages.post("/policy/whatif", response_model=None)
    async def policy_whatif(request: Request, who: Principal = Depends(auth.api("policy.read"))) -> Any:
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            proposed = merged_policy(store.current_policy()[1], form_to_policy_doc(data))
            today = date.today()
            start = _day(data.get("since"), today - timedelta(days=7))
            end = _day(data.get("until"), today)
        except PolicyError as exc:
            return JSONResponse({"detail": str(exc), "field": str(exc).split(":")[0]}, status_code=422)
        since = datetime.combine(start, time.min, timezone.utc)
        until = datetime.combine(end + timedelta(days=1), time.min, timezone.utc)  # the last day included
        return what_if(replay_inputs(store.engine, since, until), proposed).to_dict()

    @pages.get("/policy/history", response_class=HTMLResponse)
    def history_page(request: Request, rolled: int | None = None,
                     who: Principal = Depends(auth.page("policy.read"))) -> HTMLResponse:
        message = f"Rolled back: version {rolled} is now current." if rolled else None
        return render(request, "history.html", who, nav="history", versions=store.policy_history(100),
                      can_edit=who.can("policy.write"), message=message)

    @pages.post("/policy/rollback/{version}", response_model=None)
    async def rollback_page(request: Request, version: int, who: Principal = Depends(auth.page("policy.write"))) -> Response:
        await form_of(request, who)
        saved = rollback_to(store, version, who, f"rollback to version {version} from the panel")
        return RedirectResponse(f"/policy/history?rolled={saved['version']}", status_code=303)

    app.include_router(pages)


__all__ = ["add_panel_routes", "form_to_policy_doc", "policy_values", "FIELDS", "bars", "spark", "turn_bar", "turn_strip"]
