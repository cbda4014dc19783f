"""One error shape for refused requests: ``{"detail": "field: what it must be (got ...)", "field"}``.

The panel's JavaScript shows ``detail`` and the panel's form marks ``field``; the API's clients
read both. Pydantic's validation errors (the request's shape) and `routing.policy`'s
`PolicyError` (the domain's check) are both turned into it here, with the policy's own words
(`routing.policy.RULES`), so a value is refused the same way whichever check caught it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from fastapi.responses import JSONResponse

from routing.policy import DOC_PATHS, FRUSTRATION_KEYS, RULES, PolicyError
from web.schemas import ADDED_LATER

_POLICY_FIELDS = {DOC_PATHS.get(name, name): name for name in RULES}  # document path -> Policy's name
_CHECK_ORDER = {path: i for i, path in enumerate(_POLICY_FIELDS)}
_WHOLE = "required (PUT takes the whole policy document)"
_SHAPES = {"policy": "must be a JSON object of rules",
           "frustration": "must be a mapping with threshold, turns, ceiling, corroborate",
           "version": "must be the version the edit started from"}


@dataclass(frozen=True)
class Problem:
    """A refusal: its HTTP status and the body every client reads (``errors`` only for request
    validation: every error with its location)."""

    status: int
    detail: str
    field: str | None = None
    current_version: int | None = None
    errors: tuple[Mapping[str, Any], ...] | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail, "field": self.field}
        if self.current_version is not None:
            out["current_version"] = self.current_version
        if self.errors is not None:
            out["errors"] = list(self.errors)
        return out

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content=self.body())


class ProblemError(Exception):
    """Raised where a request is refused; the API answers `Problem.response()`, the panel shows it."""

    def __init__(self, problem: Problem):
        super().__init__(problem.detail)
        self.problem = problem


def field_of(message: str) -> str | None:
    """The field a "field: ..." message names, as a document path."""
    field = message.split(":", 1)[0].strip() if ":" in message else None
    return DOC_PATHS.get(field or "", field)


def policy_problem(exc: PolicyError | ValueError, status: int = 422) -> Problem:
    return Problem(status, str(exc), field_of(str(exc)))


def _path(loc: Sequence[Any]) -> str:
    """("body", "frustration", "threshold") -> "frustration.threshold"; list indexes dropped."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts)


def _value_at(doc: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        doc = doc.get(part) if isinstance(doc, Mapping) else None
    return doc


def _words(error: Mapping[str, Any], path: str, doc: Any, policy: bool) -> tuple[int, str]:
    """(rank, message) for one pydantic error; rank orders them as the policy's check always
    has: the version, unknown fields, a wrong shape, wrong values in Policy's order, what is missing."""
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden":
        return 1_000, f"{path}: unknown field"
    if not policy:
        return 2_500, f"{path or 'request'}: {error.get('msg', 'invalid')}"
    if kind == "missing":
        return 3_000, f"{path}: {_WHOLE}"
    key = path or "policy"
    if key == "version":
        return 0, f"version: {_SHAPES['version']} (got {_value_at(doc, key)!r})"
    if key in _SHAPES:
        return 500, f"{key}: {_SHAPES[key]}"
    if key in _POLICY_FIELDS:
        return 2_000 + _CHECK_ORDER[key], f"{key}: {RULES[_POLICY_FIELDS[key]].must} (got {_value_at(doc, key)!r})"
    return 2_500, f"{key}: {error.get('msg', 'invalid')}"


def validation_problem(errors: Iterable[Mapping[str, Any]], doc: Any = None, *, policy: bool = False) -> Problem:
    """Pydantic's errors as one `Problem` (422): ``detail`` and ``field`` for the first, in the
    order the policy's own check would report them; ``errors`` keeps every location. With
    ``policy``, the messages are the policy's (`routing.policy.RULES`)."""
    ranked = []
    for error in errors:
        path = _path(error.get("loc", ()))
        if policy and error.get("type") == "missing" and path == "frustration":
            ranked += [(3_000, f"frustration.{k}: {_WHOLE}", f"frustration.{k}", error) for k in FRUSTRATION_KEYS
                       if f"frustration.{k}" not in ADDED_LATER]
            continue
        rank, message = _words(error, path, doc, policy)
        ranked.append((rank, message, path or ("policy" if policy else None), error))
    ranked.sort(key=lambda r: (r[0], (r[2] or "") if r[0] == 3_000 else ""))  # stable: pydantic's order otherwise
    if not ranked:
        return Problem(422, "request: invalid")
    _, detail, field, _ = ranked[0]
    listed = tuple({"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                   for _, _, _, e in ranked)
    return Problem(422, detail, field, errors=listed)
