"""`encore evaluate`'s protocol and JSON on a small slice of the bundled Last.fm plays."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.evaluate import register
from models.evaluation import evaluate
from models.parsers import parse_paths
from models.play_log import PlayLog

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"
KEYS = {
    "plays",
    "labelled",
    "positive_rate",
    "online_auc",
    "online_auc_test",
    "online_logloss_test",
    "sklearn_logreg_auc_test",
    "lightgbm_auc_test",
    "heuristic_auc_test",
    "plays_per_second",
}


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DATA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {DATA}")
        pytest.skip(f"bundled data not found at {DATA}")
    path = tmp_path_factory.mktemp("eval") / "slice.tsv.gz"
    with gzip.open(DATA, "rt") as src, gzip.open(path, "wt") as dst:
        for i, line in enumerate(src):
            if i % 10 == 0:  # every 10th play: the whole 394 days, 13k plays
                dst.write(line)
    return path


def test_evaluate_json_has_the_protocol_keys(small_file: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from flattening `evaluate`
        """Unused."""

    result = CliRunner().invoke(app, ["evaluate", str(small_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= KEYS
    assert data["plays"] == 12_931
    assert 0 < data["labelled"] < data["plays"]
    assert set(data["heuristic_auc_test"]) == {"pair_plays", "recency", "pair_plays_30d"}
    for key in ("online_auc", "online_auc_test", "sklearn_logreg_auc_test", "lightgbm_auc_test"):
        assert 0.5 < data[key] <= 1.0, key
    assert data["plays_per_second"] > 0


def test_protocol_split_and_report_material(small_file: Path) -> None:
    plays = parse_paths([small_file]).events
    result = evaluate(plays)
    horizon = 30 * 86_400
    test = result.test_predictions
    assert len(test) == result.test_size > 0
    assert (test["ts"] > result.split_time).all()
    assert {"online", "sklearn_logreg", "lightgbm", "recency", "label"} <= set(test.columns)
    assert result.train_size > 0 and result.split_time is not None
    # Batch models never train on a label unknown at the split: train plays end a
    # horizon before it, and the test window starts after it.
    assert result.online_auc_over_time and result.lightgbm_importance
    assert result.online_weights
    assert max(p.ts for p in plays) - horizon >= test["ts"].max()


def test_nothing_to_evaluate_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        """Unused."""

    result = CliRunner().invoke(app, ["evaluate", str(empty), "--json"])
    assert result.exit_code != 0


def test_a_play_log_evaluates_exactly_as_the_plays_do(small_file: Path) -> None:
    plays = parse_paths([small_file]).events
    log = PlayLog()
    log.extend(plays)
    from_list, from_log = evaluate(plays).to_json_dict(), evaluate(log).to_json_dict()
    for timing in ("plays_per_second", "wall_plays_per_second"):
        from_list.pop(timing), from_log.pop(timing)
    assert from_log == from_list
    assert from_list["labelled"] > 0 and from_list["online_auc_test"] is not None


def test_unusable_input_with_json_prints_why_as_json(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        """Unused."""

    missing = tmp_path / "nowhere.csv"
    result = CliRunner().invoke(app, ["evaluate", str(missing), "--json"])
    assert result.exit_code == 2
    unusable = {"path": str(missing), "reason": "no such file or directory"}
    assert json.loads(result.stdout) == {"unusable": unusable}
