"""The knowledge base: its API, the admins' page that edits it, and the agent desktop's search.

    GET  /api/knowledge                     the newest version of every article
    GET  /api/knowledge/search?q=&k=        the articles nearest a text (MiniLM, `nlu.knowledge`)
    GET  /api/knowledge/{key}               one article
    PUT  /api/knowledge/{key}               {"question", "answer", "version"?, "comment"?}: a new version
                                            (409 when ``version`` is not the newest, 422 naming the field)
    GET  /api/knowledge/{key}/history       every version, newest first, with its audit entry
    POST /api/knowledge/{key}/rollback/{v}  version v's text as a new version
    GET  /knowledge, POST /knowledge/{key}  the page (admins edit; supervisors read)
    GET  /desktop/{agent_id}/knowledge?q=   the desktop's search box (the desktop's own sign-in)

Reading takes ``policy.read``, editing ``policy.write``: the knowledge base is what the bot says,
guarded like what the bot decides. Edits are versioned and audited by `store.knowledge`.
"""

from __future__ import annotations

import weakref
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from nlu.knowledge import KnowledgeIndex
from store.knowledge import MAX_ANSWER, MAX_QUESTION, KnowledgeConflict, KnowledgeError
from web.auth import Principal
from web.dependencies import ApiUser, DepsDep, PageUser, StoreDep, WebDeps, csrf_form
from web.problems import Problem, field_of
from web.templating import render

router = APIRouter(prefix="/api/knowledge", tags=["knowledge"])
pages = APIRouter(include_in_schema=False)
desk = APIRouter(include_in_schema=False)

_INDEXES: "weakref.WeakKeyDictionary[Any, KnowledgeIndex]" = weakref.WeakKeyDictionary()
KeyPath = Path(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")


class ArticleBody(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER)
    version: int | None = Field(None, ge=1, description="the version this edit starts from (409 if not the newest)")
    comment: str | None = Field(None, max_length=1000)


def knowledge_index(deps: WebDeps) -> KnowledgeIndex:
    """The desktop hub's index when there is one (the contact centre's), else one over the store
    (the same shared MiniLM either way: `nlu.embeddings`)."""
    hub_index = getattr(deps.desktop.hub, "index", None) if deps.desktop is not None else None
    if hub_index is not None:
        return hub_index
    assert deps.store is not None
    kb = deps.store.knowledge
    if kb not in _INDEXES:
        _INDEXES[kb] = KnowledgeIndex(kb.entries)
    return _INDEXES[kb]


def _search(deps: WebDeps, q: str, k: int) -> dict[str, Any]:
    return {"query": q, "articles": [s.to_dict() for s in knowledge_index(deps).search(q, k)]}


def _refused(exc: Exception) -> Problem:
    if isinstance(exc, KnowledgeConflict):
        return Problem(409, str(exc), "version", current_version=exc.current)
    if isinstance(exc, LookupError):
        return Problem(404, str(exc).split(": ", 1)[-1], field_of(str(exc)))
    return Problem(422, str(exc), field_of(str(exc)))


# ---- the API ---------------------------------------------------------------------------------------
@router.get("", dependencies=[Depends(ApiUser("policy.read"))])
def list_articles(store: StoreDep) -> dict[str, Any]:
    return {"articles": [a.to_dict() for a in store.knowledge.articles()]}


@router.get("/search", dependencies=[Depends(ApiUser("policy.read"))])
def search_articles(deps: DepsDep, q: str = Query(..., max_length=500), k: int = Query(3, ge=1, le=10)) -> dict[str, Any]:
    return _search(deps, q, k)


@router.get("/{key}", dependencies=[Depends(ApiUser("policy.read"))], response_model=None)
def get_article(store: StoreDep, key: str = KeyPath) -> dict[str, Any] | JSONResponse:
    article = store.knowledge.article(key)
    return article.to_dict() if article else Problem(404, f"no article {key}", "key").response()


@router.put("/{key}", response_model=None)
def put_article(body: ArticleBody, store: StoreDep, key: str = KeyPath,
                who: Principal = Depends(ApiUser("policy.write"))) -> dict[str, Any] | JSONResponse:
    """A new version of the article (a new key starts at version 1)."""
    try:
        return store.knowledge.save(key, body.question, body.answer, who.name, body.comment,
                                    expected_version=body.version).to_dict()
    except (KnowledgeError, KnowledgeConflict) as exc:
        return _refused(exc).response()


@router.get("/{key}/history", dependencies=[Depends(ApiUser("policy.read"))])
def article_history(store: StoreDep, key: str = KeyPath, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"key": key, "versions": store.knowledge.history(key, limit)}


@router.post("/{key}/rollback/{version}", response_model=None)
def rollback_article(store: StoreDep, version: int = Path(ge=1), key: str = KeyPath,
                     comment: str | None = Query(None, max_length=1000),
                     who: Principal = Depends(ApiUser("policy.write"))) -> dict[str, Any] | JSONResponse:
    try:
        return store.knowledge.rollback(key, version, who.name, comment).to_dict()
    except (KnowledgeError, LookupError) as exc:
        return _refused(exc).response()


# ---- the page --------------------------------------------------------------------------------------
def _page(request: Request, store, who: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
    return render(request, "knowledge.html", who, status, nav="knowledge", articles=store.knowledge.articles(),
                  audit=store.knowledge.audit(20), can_edit=who.can("policy.write"), **ctx)


@pages.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(request: Request, store: StoreDep, saved: str | None = Query(None, max_length=64),
                   who: Principal = Depends(PageUser("policy.read"))) -> HTMLResponse:
    return _page(request, store, who, message=f"Saved: {saved} is live." if saved else None)


@pages.post("/knowledge/{key}", response_model=None)
async def knowledge_post(request: Request, store: StoreDep, key: str = KeyPath,
                         who: Principal = Depends(PageUser("policy.write"))) -> Response:
    form = await csrf_form(request, who)
    try:
        version = int(form.get("version") or 0) or None
        store.knowledge.save(key, form.get("question", ""), form.get("answer", ""), who.name,
                             form.get("comment") or None, expected_version=version)
    except (KnowledgeError, KnowledgeConflict, ValueError) as exc:
        problem = _refused(exc)
        return _page(request, store, who, problem.status, error=problem.detail, error_key=key)
    return RedirectResponse(f"/knowledge?saved={key}", status_code=303)


# ---- the desktop's search box ----------------------------------------------------------------------
@desk.get("/desktop/{agent_id}/knowledge", response_model=None)
def desktop_search(request: Request, agent_id: str, deps: DepsDep, q: str = Query(..., max_length=500),
                   k: int = Query(3, ge=1, le=10), token: str | None = Query(None)) -> dict[str, Any] | JSONResponse:
    """The agent's own search, signed in as the desktop is (its link token or the session)."""
    from web.routers.desktop import _authorised

    if not _authorised(deps, agent_id, token, request):
        return Problem(403, "not authorised for this agent").response()
    return _search(deps, q, k)
