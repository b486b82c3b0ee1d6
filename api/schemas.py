"""Response and error bodies of the API: the OpenAPI contract schemathesis checks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValidationIssue(_Out):
    """One reason a request was refused."""

    loc: list[str | int] = Field(description="Where: e.g. ['query', 'k'].")
    msg: str


class ErrorResponse(_Out):
    """Every non-2xx body: a stable machine code and a sentence for people."""

    code: str = Field(
        description=(
            "unknown_listener, no_recommendations, no_model, invalid_request, "
            "invalid_api_key, redis_unavailable, not_ready, not_found, "
            "method_not_allowed, internal_error"
        ),
        examples=["unknown_listener"],
    )
    message: str = Field(examples=["listener 'ana' is unknown"])
    details: list[ValidationIssue] = Field(default_factory=list)


class RecommendationItem(_Out):
    track_id: str
    track_name: str | None = Field(description="Null when the track's name is not known.")
    artist_name: str | None
    score: float = Field(ge=0.0, le=1.0, description="P(listener replays it within 30 days).")
    reason: str | None = Field(description="Why this track (falls back to the list's reason).")


class RecommendationsResponse(_Out):
    user_id: str
    k: int = Field(ge=1, description="How many items were asked for.")
    items: list[RecommendationItem] = Field(description="Best first.")
    model_version: str
    scored_at: datetime = Field(description="Wall-clock time the list was scored.")
    as_of_event_time: datetime = Field(description="Event time the features were taken at.")
    reason: str = Field(description="List-level reason: personalised, cold_start: trending...")


class PlayOut(_Out):
    track_id: str
    track_name: str | None
    artist_name: str | None
    played_at: datetime
    ms_played: int | None


class HistoryResponse(_Out):
    user_id: str
    plays: list[PlayOut] = Field(description="Newest first.")


class ListenerOut(_Out):
    user_id: str
    last_event_time: datetime


class ListenersResponse(_Out):
    total: int = Field(ge=0)
    listeners: list[ListenerOut] = Field(description="Most recently active first.")


class ModelResponse(_Out):
    version: str
    examples_learned: int = Field(ge=0)
    rolling_auc: float | None
    rolling_logloss: float | None
    published_at: datetime | None
    snapshot_bytes: int = Field(ge=0)


class MetricsPointOut(_Out):
    event_time: float = Field(description="POSIX seconds, event time.")
    wall_time: float = Field(description="POSIX seconds, wall clock.")
    auc: float | None
    logloss: float | None
    examples: int = Field(ge=0)
    plays_per_second: float = Field(ge=0.0)


class ModelHistoryResponse(_Out):
    points: list[MetricsPointOut] = Field(description="Oldest first.")


class HealthResponse(_Out):
    status: Literal["ok"] = "ok"


class ReadyResponse(_Out):
    status: Literal["ready"] = "ready"
    model_version: str
