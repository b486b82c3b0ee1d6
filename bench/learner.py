"""learner: River learn + predict per second for the chosen pipeline and the alternatives,
with their test AUC on the bundled Last.fm file.

Two figures per model, both on this machine in this run:

- **AUC** (test window, issue 4's protocol) from :func:`models.evaluation.evaluate` with
  the model (``baselines=False``; the chosen model's run also fits the batch baselines:
  scikit-learn logistic regression on the same features is its ceiling);
- **learn + predict per second**: the model alone over the resolved examples of the
  file (features computed once, beforehand), predict then learn, the way the trainer
  feeds it (mini-batches of 256 for the AdaGrad logistic regression, one at a time for
  the others), in CPU time of this process.

Alternatives are reported beside the chosen model (``logreg``) measured in the same run.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from bench.common import Result, Row, load_lastfm
from models.evaluation import evaluate
from models.learner import LEARN_BATCH, make_model
from models.prepare import features_frame
from models.processor import PlayProcessor
from models.settings import ModelSettings

NAME = "learner"
CHOSEN = "newton"
#: Models learnt in mini-batches of LEARN_BATCH (``learn_many``); the rest one at a time.
BATCHED = ("newton", "logreg")
LABELS = {
    "newton": "recursive Newton logistic regression, batches of 256 (chosen)",
    "logreg": "AdaGrad logistic regression, batches of 256",
    "logreg-sgd": "SGD logistic regression, one at a time",
    "hat": "Hoeffding adaptive tree",
    "arf": "adaptive random forest (5 trees)",
}


class OneAtATime:
    """A River pipeline seen through ``learn_one`` / ``predict_proba_one`` only (a pipeline
    ending in a tree advertises ``predict_proba_many`` that its last step lacks)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        self.model.learn_one(x, y)

    def predict_proba_one(self, x: dict[str, float]) -> dict[bool, float]:
        proba: dict[bool, float] = self.model.predict_proba_one(x)
        return proba


def resolved(plays: list[Any]) -> list[tuple[Any, float]]:
    """Every example of the file in resolution order, with the watermark when it resolved."""
    proc = PlayProcessor(ModelSettings())
    out: list[tuple[Any, float]] = []
    for play in plays:
        for ex in proc.process(play).examples:
            out.append((ex, proc.watermark))
    out.extend((ex, proc.labeller.max_event_time) for ex in proc.finish())
    return out


def trainer_rate(items: list[tuple[Any, float]]) -> tuple[float, float]:
    """The stream's trainer (:class:`stream_app.trainer.Trainer`: duplicates check, rolling
    metrics, the chosen learner) over wire-decoded examples in messages of 200:
    (examples per CPU second including decoding, excluding decoding)."""
    from stream_app.examples_wire import ExampleMessage, decode_examples, encode_examples
    from stream_app.trainer import Trainer

    msgs = [ExampleMessage(example=ex, p=0.5, model_version="v0", watermark=wm) for ex, wm in items]
    wire = encode_examples(msgs)
    trainer = Trainer()
    cpu0 = time.process_time()
    decoded = [decode_examples(w) for w in wire]
    cpu_decode = time.process_time() - cpu0
    for batch in decoded:
        trainer.take(batch)
    cpu = time.process_time() - cpu0
    return len(items) / max(cpu, 1e-9), len(items) / max(cpu - cpu_decode, 1e-9)


def learn_predict_rate(kind: str, examples: list[tuple[dict[str, float], bool]]) -> float:
    """Examples per CPU second, predict then learn, as the trainer feeds ``kind``."""
    model = make_model(kind)
    cpu0 = time.process_time()
    if kind in BATCHED:
        for i in range(0, len(examples), LEARN_BATCH):
            chunk = examples[i : i + LEARN_BATCH]
            frame = features_frame([x for x, _ in chunk])
            if i:
                model.predict_proba_many(frame)
            model.learn_many(frame, pd.Series([y for _, y in chunk], index=frame.index))
    else:
        for x, y in examples:
            model.predict_proba_one(x)
            model.learn_one(x, y)
    return len(examples) / max(time.process_time() - cpu0, 1e-9)


def run(*, quick: bool = False, limit: int | None = None, **_: Any) -> Result:
    plays = load_lastfm()
    kinds = ["newton", "logreg", "logreg-sgd", "hat"] + ([] if quick else ["arf"])
    items = resolved(plays)
    examples = [(ex.features, ex.label) for ex, _ in items]
    speed_sample = examples[: (limit or (30_000 if quick else len(examples)))]
    per: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        batch = LEARN_BATCH if kind in BATCHED else 1
        model = make_model(kind) if kind in BATCHED else OneAtATime(make_model(kind))
        res = evaluate(plays, model=model, batch_size=batch, baselines=(kind == CHOSEN))
        per[kind] = {
            "auc_test": res.online_auc_test,
            "auc_all_labelled": res.online_auc,
            "logloss_test": res.online_logloss_test,
            "whole_path_plays_per_cpu_s": res.plays_per_second,
            "learn_predict_per_cpu_s": learn_predict_rate(kind, speed_sample),
            "sklearn_logreg_auc_test": res.sklearn_logreg_auc_test,
            "lightgbm_auc_test": res.lightgbm_auc_test,
        }
    chosen = per[CHOSEN]
    trainer_all, trainer_no_decode = trainer_rate(items)
    rows = [
        Row(key=f"{CHOSEN}_auc", figure=f"{LABELS[CHOSEN]}: test AUC", value=chosen["auc_test"],
            baseline="scikit-learn batch logistic regression",
            baseline_value=chosen["sklearn_logreg_auc_test"]),
        Row(key=f"{CHOSEN}_learn_predict", figure=f"{LABELS[CHOSEN]}: learn + predict", unit="examples/s",
            value=chosen["learn_predict_per_cpu_s"], baseline="whole feature+label+learn path, plays/s",
            baseline_value=chosen["whole_path_plays_per_cpu_s"]),
        Row(key="trainer_examples_per_s", figure="stream trainer (decode, metrics, learner)",
            unit="examples/s", value=trainer_all, baseline="chosen learner alone",
            baseline_value=chosen["learn_predict_per_cpu_s"]),
    ]  # fmt: skip
    for kind in kinds:
        if kind == CHOSEN:
            continue
        rows.append(
            Row(key=f"{kind}_auc", figure=f"{LABELS[kind]}: test AUC", value=per[kind]["auc_test"],
                baseline="chosen", baseline_value=chosen["auc_test"])
        )
        rows.append(
            Row(key=f"{kind}_learn_predict", figure=f"{LABELS[kind]}: learn + predict", unit="examples/s",
                value=per[kind]["learn_predict_per_cpu_s"], baseline="chosen",
                baseline_value=chosen["learn_predict_per_cpu_s"])
        )
    return Result(
        name=NAME,
        parameters={"plays": len(plays), "examples": len(examples), "speed_sample": len(speed_sample),
                    "kinds": kinds, "source": "bundled Last.fm file"},
        rows=rows,
        figures={"models": per, "lightgbm_auc_test": chosen["lightgbm_auc_test"],
                 "trainer_examples_per_cpu_s": trainer_all,
                 "trainer_examples_per_cpu_s_without_decoding": trainer_no_decode},
        notes=["learn + predict/s is CPU time of one process (one core) over features computed "
               "beforehand; AUC is the test window of `encore evaluate`'s protocol, each model "
               "learning at horizon close."],
    )  # fmt: skip
