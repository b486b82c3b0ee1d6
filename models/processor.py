"""One play in, frozen features and resolved examples out: the per-partition path.

:class:`PlayProcessor` is what both paths run for every play: ``encore evaluate``
over a file, and the stream app's agent over its partitions. It keeps one
:class:`~models.features.ListenerState` and one :class:`~models.labels.LabelState`
per listener (plain dicts by default, Faust tables in the stream app), de-duplicates,
computes the features (from events at or before the play only) and runs the label
rule.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent
>>> t0 = datetime(2024, 3, 1, tzinfo=UTC)
>>> proc = PlayProcessor()
>>> def play(track, days):
...     return PlayEvent(user_id="ana", track_id=track, played_at=t0 + timedelta(days=days))
>>> out = proc.process(play("a", 0))
>>> out.kind, out.named["pair_plays"], out.examples
('play', 0.0, [])
>>> out = proc.process(play("a", 2))
>>> [(e.label, e.features["pair_plays"]) for e in out.examples]
[(True, 0.0)]
>>> proc.process(play("a", 2)).kind
'duplicate'
>>> proc.counts["duplicate"], proc.counts["play"]
(1, 2)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field

from models.events import PlayEvent
from models.features import FeatureRow, Features, ListenerState, StepKind, named, step
from models.labels import Example, Labeller, LabelState
from models.settings import ModelSettings


@dataclass(slots=True)
class Processed:
    """What one play produced.

    ``features`` is set for a counted play (``kind == "play"``); ``late`` says it
    arrived behind the watermark, or more than the allowed lateness behind its
    listener's latest play, and so will not be labelled; ``examples`` are the
    examples (of this or earlier plays) whose labels resolved now.
    """

    kind: StepKind
    #: Values in :data:`~models.features.FEATURE_NAMES` order (:attr:`named`: by name).
    features: FeatureRow | None
    late: bool
    examples: list[Example] = field(default_factory=list)

    @property
    def named(self) -> Features | None:
        return None if self.features is None else named(self.features)


class PlayProcessor:
    """Features and labels for a stream of plays of many listeners, in arrival order.

    To resume (a restarted worker), pass the saved per-listener states and the
    highest event time seen (``labeller.max_event_time``): the watermark follows it.
    """

    def __init__(
        self,
        settings: ModelSettings | None = None,
        feature_states: MutableMapping[str, ListenerState] | None = None,
        label_states: MutableMapping[str, LabelState] | None = None,
        max_event_time: float | None = None,
    ) -> None:
        self.settings = settings or ModelSettings()
        self.features: MutableMapping[str, ListenerState] = {} if feature_states is None else feature_states
        self.labeller = Labeller(self.settings, label_states, max_event_time)
        self.counts: Counter[str] = Counter()

    @property
    def watermark(self) -> float:
        return self.labeller.watermark

    def process(self, play: PlayEvent) -> Processed:
        """Fold one play in; return its features and the examples it resolved."""
        state = self.features.get(play.user_id)
        if state is None:
            state = ListenerState(play.user_id)
        state, result = step(state, play, self.settings)
        self.counts[result.kind] += 1
        if result.kind in ("duplicate", "stale"):
            return Processed(result.kind, None, False)
        self.features[play.user_id] = state
        if result.kind == "short":
            # Not a play for the label rule, but its time still moves the watermark.
            return Processed("short", None, False, self.labeller.advance_to_event(play.ts))
        ts = play.ts
        late = ts < self.labeller.watermark
        # Older than the listener's own latest play by more than the lateness: its
        # features are approximate (step), so it is never an example, even where the
        # watermark (a stream's slowest partition) is further behind. A file's
        # watermark is always past it, so this changes nothing offline.
        beyond = ts < state.latest - self.settings.allowed_lateness_s
        if late or beyond:
            self.counts["late"] += 1
        features = None if beyond else result.features
        examples = self.labeller.observe_at(play.user_id, play.track_id, play.event_id, ts, features)
        return Processed("play", result.features, late or beyond, examples)

    def finish(self, watermark: float | None = None) -> list[Example]:
        """End of input: move the watermark to ``watermark`` (default: the latest event
        time, as no event can be late any more) and return the negatives resolved."""
        end = self.labeller.max_event_time if watermark is None else watermark
        # Strictly past the latest event, so a play exactly one horizon before it resolves.
        return self.labeller.advance(math.nextafter(end, math.inf))
