"""The JSON API's request and response bodies, as pydantic models (they are its OpenAPI schema).

`PolicyDocument` is the escalation policy as `PUT /api/policy` and the panel's form send it. Its
bounds are `routing.policy`'s own (`SCORE_MIN`, `MIN_COUNT`, ...), and it is strict like
`Policy.__post_init__` (no "3" for 3, no 1 for true), so a document it accepts is one `Policy`
accepts: the model gives the endpoint a schema, `Policy` stays the domain's check for YAML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from routing.policy import MIN_COUNT, MIN_SECONDS, SCORE_MAX, SCORE_MIN
from store.accounts import REASON_TAGS

Score = Annotated[float, Field(ge=SCORE_MIN, le=SCORE_MAX)]
Count = Annotated[int, Field(ge=MIN_COUNT)]
Names = list[Annotated[str, Field(min_length=1)]]

_STRICT = ConfigDict(strict=True, extra="forbid")
MAX_VERSION = 2**63 - 1  # the store's version column is a BIGINT: no version above it exists
VersionPath = Annotated[int, Path(le=MAX_VERSION, description="a stored policy version")]


class FrustrationRules(BaseModel):
    model_config = _STRICT

    threshold: Score = Field(description="smoothed frustration (0-1) that counts as frustrated")
    turns: Count = Field(description="caller turns in a row at or above the threshold before a transfer")
    ceiling: Score = Field(description="one turn's raw score at or above this transfers at once")
    # Added after the document's first release: optional (see ADDED_LATER), never null; the
    # default is not validated, so leaving it out is told apart from sending null.
    corroborate: bool = Field(None, description="the ceiling acts on one turn only when the score holds "  # type: ignore[assignment]
                              "without its strongest part; left out: the current value is kept")


class PolicyDocument(BaseModel):
    """A whole policy document (every rule); ``version``, if given, is the version the edit
    started from: the save is refused (409) when another was saved since."""

    model_config = _STRICT

    version: int | None = Field(None, description="the version this edit started from (optional)")
    frustration: FrustrationRules
    explicit_request: bool = Field(description="transfer when the caller asks for a person")
    dtmf_zero: bool = Field(description="transfer when the caller presses 0")
    sensitive_intents: Names = Field(description="intents only a person handles")
    max_no_match: Count = Field(description="turns not understood in a row before a transfer")
    max_no_input: Count = Field(description="silences in a row before a transfer")
    max_bot_seconds: Annotated[float, Field(gt=MIN_SECONDS)] = Field(
        description="seconds with the bot before a person takes over")
    always_human_tiers: Names = Field(description="customer tiers sent straight to a person")

    def rules(self) -> dict[str, Any]:
        """The document without ``version``, as `Policy.from_dict` takes it; a field of
        `ADDED_LATER` left out stays out (the current value is kept, `web.policy_edits`)."""
        return self.model_dump(exclude={"version"}, exclude_unset=True)

    def lacks_later_fields(self) -> bool:
        return "corroborate" not in self.frustration.model_fields_set


# Fields added to the document after its first release: a whole document from an older client
# that lacks one keeps the current value rather than being refused.
ADDED_LATER = frozenset({"frustration.corroborate"})


class ProblemBody(BaseModel):
    """Every refused request's body (4xx): what is wrong, and where."""

    detail: str = Field(description='"field: what it must be (got ...)", or what went wrong')
    field: str | None = Field(None, description="the field at fault as a dotted path (frustration.threshold)")
    current_version: int | None = Field(None, description="on 409: the newest policy version")
    errors: list[dict[str, Any]] | None = Field(None, description="on 422 from request validation: every "
                                                "error with its location (loc, msg, type)")


class WhatIfRequest(BaseModel):
    policy: dict[str, Any] = Field(description="a whole or partial policy document; missing fields keep the current value")
    since: datetime | None = Field(None, description="first call start (default: 7 days ago)")
    until: datetime | None = Field(None, description="last call start, exclusive (default: now)")


class DispositionRequest(BaseModel):
    escalation_right: bool = Field(description="was handing this call to a person the right call")
    caller_frustrated: bool | None = Field(None, description="was the caller frustrated when they reached you")
    reason_tag: str = Field(description="one of: " + ", ".join(REASON_TAGS))
    note: str | None = Field(None, max_length=2000)
