"""The JSON API: the same calls, grades and rules as the pages, for integrations."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from analyzer.review.decisions import MAX_COMMENT, ItemDecision, confirm_call, dispute_item
from analyzer.review.queue import MAX_PAGE, MAX_PER_PAGE, PER_PAGE, QueueFilters, list_queue
from analyzer.review.users import User
from analyzer.review.views import call_view
from analyzer.web.auth import api_user, store_of


class Problem(BaseModel):
    detail: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallsQuery(_Strict):
    """The filters of GET /api/calls; an unknown (say, misspelt) parameter is refused."""

    rep: str | None = Field(default=None, max_length=200, description="The rep, any case.")
    since: date | None = Field(default=None, description="From this call date, inclusive.")
    until: date | None = Field(default=None, description="To this call date, inclusive.")
    rubric: str | None = Field(default=None, max_length=200, description="A rubric id.")
    status: Literal["unreviewed", "disputed", "confirmed", "open"] | None = Field(
        default=None, description="open: unreviewed or disputed."
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=PER_PAGE, ge=1, le=MAX_PER_PAGE)


class ItemReview(_Strict):
    item_id: str = Field(min_length=1, max_length=200, description="An item id of the rubric.")
    status: Literal["met", "partial", "missed", "na"]
    comment: str = Field(default="", max_length=MAX_COMMENT)
    evidence_turn: int | None = Field(
        default=None,
        ge=0,
        description="The sentence that earned the item: an index into the call's transcript "
        "`turns` (only with status met or partial; not for a forbidden item). It becomes the "
        "item's evidence (method `manager`) and stays through later reviews while the item is "
        "met or partial. Null or left out: the item keeps the evidence it has.",
    )


class ReviewIn(_Strict):
    version: int = Field(
        ge=0, description="The call's review version as read; a newer one means 409."
    )
    items: list[ItemReview] = Field(
        default_factory=list,
        max_length=500,
        description="Items to set; the others keep their last confirmed, else suggested, status.",
    )
    comment: str = Field(default="", max_length=MAX_COMMENT)


class DisputeIn(_Strict):
    version: int = Field(ge=0)
    item_id: str = Field(min_length=1, max_length=200)
    comment: str = Field(min_length=1, max_length=MAX_COMMENT, pattern=r"\S")


class CallRow(BaseModel):
    call_id: str
    rep: str | None
    call_date: str | None
    duration: float | None
    rubric: str | None
    rubric_version: str | None
    status: Literal["unreviewed", "disputed", "confirmed"]
    priority: int
    suggested_grade: float | None
    confirmed_grade: float | None
    grade: float | None
    passed: bool | None
    flags: list[str] = Field(
        description="Of the suggested grade: below_pass_mark, critical_missed, forbidden_said, "
        "low_confidence, roles_inferred, too_short, no_speech, single_speaker."
    )
    open_disputes: int
    reviewed_by: str | None
    forbidden_said: list[str] = Field(
        default_factory=list,
        description="With the forbidden_said flag: the text of each forbidden item whose line "
        "the rep said.",
    )


class CallList(BaseModel):
    total: int
    counts: dict[str, int]
    page: int
    per_page: int
    pages: int
    calls: list[CallRow]


class CallDetail(BaseModel):
    call: dict[str, Any]
    review: dict[str, Any]
    suggested: dict[str, Any] | None
    confirmed: dict[str, Any] | None
    disputes: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    has_audio: bool
    transcript: dict[str, Any] | None


class ReviewOut(BaseModel):
    call_id: str
    version: int
    confirmed: dict[str, Any]


class DisputeOut(BaseModel):
    call_id: str
    dispute_id: int
    version: int


class Me(BaseModel):
    name: str
    role: str
    rep_name: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid API token or session."},
    403: {"model": Problem, "description": "Not allowed for this user."},
}
CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": Problem, "description": "No such call."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **CALL_ERRORS,
    400: {"model": Problem, "description": "The body cannot be read (not UTF-8 JSON)."},
    409: {"model": Problem, "description": "Changed since `version`: read the call again."},
}

router = APIRouter(prefix="/api", tags=["calls"], responses=ERRORS)
CallId = Annotated[str, Path(description="The call's id, as `analyzer calls` lists it.")]
Caller = Annotated[User, Depends(api_user)]


@router.get("/me", response_model=Me, summary="The user the token belongs to")
def me(user: Caller) -> Any:
    return user.to_dict()


@router.get("/calls", response_model=CallList, summary="List and filter calls, queue order")
def calls(
    user: Caller, store: Annotated[Any, Depends(store_of)], q: Annotated[CallsQuery, Query()]
) -> Any:
    filters = QueueFilters(
        rep=q.rep,
        since=q.since.isoformat() if q.since else None,
        until=q.until.isoformat() if q.until else None,
        rubric=q.rubric,
        status=q.status,
        page=q.page,
        per_page=q.per_page,
    )
    return list_queue(store, user, filters).to_dict()


@router.get(
    "/calls/{call_id}",
    response_model=CallDetail,
    responses=CALL_ERRORS,
    summary="A call with its transcript, suggested and confirmed grades, disputes and audit trail",
)
def call(call_id: CallId, user: Caller, store: Annotated[Any, Depends(store_of)]) -> Any:
    return call_view(store, call_id, user).to_dict()


@router.post(
    "/calls/{call_id}/review",
    response_model=ReviewOut,
    responses=WRITE_ERRORS,
    summary="Confirm the call's grade, overriding items (managers and admins)",
)
def review(
    call_id: CallId, body: ReviewIn, user: Caller, store: Annotated[Any, Depends(store_of)]
) -> Any:
    decisions = [ItemDecision(i.item_id, i.status, i.comment, i.evidence_turn) for i in body.items]
    saved = confirm_call(store, call_id, user, decisions, body.version, body.comment)
    return {"call_id": call_id, "version": saved.version, "confirmed": saved.confirmed}


@router.post(
    "/calls/{call_id}/disputes",
    response_model=DisputeOut,
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Dispute an item of your own call (reps)",
)
def dispute(
    call_id: CallId, body: DisputeIn, user: Caller, store: Annotated[Any, Depends(store_of)]
) -> Any:
    saved = dispute_item(store, call_id, user, body.item_id, body.comment, body.version)
    return {"call_id": call_id, "dispute_id": saved.dispute_id, "version": saved.version}
