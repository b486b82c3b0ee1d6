"""Same code offline and online: one run over a sequence equals a run in batches
with every state saved to bytes and restored between batches (a worker restart)."""

from __future__ import annotations

import gzip
import os
from datetime import timedelta
from pathlib import Path

import pytest

from models.events import PlayEvent
from models.features import ListenerState
from models.labels import LabelState
from models.processor import PlayProcessor
from models.settings import ModelSettings

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"


def lastfm_slice(n: int) -> list[PlayEvent]:
    if not DATA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {DATA}")
        pytest.skip(f"bundled data not found at {DATA}")
    origin = ModelSettings().jodie_origin
    plays = []
    with gzip.open(DATA, "rt") as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            user, item, seconds = line.split("\t")
            plays.append(
                PlayEvent(
                    user_id=user,
                    track_id=item,
                    played_at=origin + timedelta(seconds=float(seconds)),
                    source="jodie",
                )
            )
    return plays


def run_once(plays: list[PlayEvent]) -> tuple[dict[str, object], dict[str, bool]]:
    proc = PlayProcessor()
    feats: dict[str, object] = {}
    labels: dict[str, bool] = {}
    for p in plays:
        out = proc.process(p)
        feats[p.event_id] = out.features
        labels.update((e.event_id, e.label) for e in out.examples)
    labels.update((e.event_id, e.label) for e in proc.finish())
    return feats, labels


def run_in_batches(plays: list[PlayEvent], size: int) -> tuple[dict[str, object], dict[str, bool]]:
    saved_f: dict[str, bytes] = {}
    saved_l: dict[str, dict[str, object]] = {}
    max_event_time: float | None = None
    feats: dict[str, object] = {}
    labels: dict[str, bool] = {}
    proc = PlayProcessor()
    for start in range(0, len(plays), size):
        proc = PlayProcessor(
            feature_states={k: ListenerState.from_bytes(v) for k, v in saved_f.items()},
            label_states={k: LabelState.from_dict(v) for k, v in saved_l.items()},
            max_event_time=max_event_time,
        )
        for p in plays[start : start + size]:
            out = proc.process(p)
            if out.kind == "duplicate":
                assert p.event_id in feats
                continue
            feats[p.event_id] = out.features
            labels.update((e.event_id, e.label) for e in out.examples)
        saved_f = {k: v.to_bytes() for k, v in proc.features.items()}
        saved_l = {k: v.to_dict() for k, v in proc.labeller.states.items()}
        max_event_time = proc.labeller.max_event_time
    labels.update((e.event_id, e.label) for e in proc.finish())
    return feats, labels


def test_batches_with_restarts_give_identical_features_and_labels() -> None:
    plays = lastfm_slice(3000)
    # Replay a chunk twice, as a consumer does after a crash: duplicates count once.
    replayed = plays[:1500] + plays[1200:]
    once = run_once(plays)
    batched = run_in_batches(replayed, 250)
    assert batched[0] == once[0]
    assert batched[1] == once[1]
    assert len(once[1]) > 1000
