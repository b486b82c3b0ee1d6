"""`encore report` end to end through the real CLI app.

On a time-ordered slice of the bundled Last.fm file (its first plays), so the test
stays well under a minute: the report must write every figure as a valid PNG, link
them all from report.html, and show exactly the numbers `encore evaluate --json`
prints for the same file (in the page and in evaluation.json).
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from models.events import PlayEvent
from models.parsers import write_csv
from report.build import build_report
from report.figure import PNG_MAGIC
from report.html import flatten, read_evaluation_cells, read_evaluation_text

JODIE = Path(__file__).resolve().parents[4] / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"

#: The file is sorted by time: its first plays span about five months.
SLICE_PLAYS = 40_000

FIGURES = (
    "plays_per_entity.png",
    "listening_over_time.png",
    "hour_weekday.png",
    "short_plays.png",
    "replay_rate.png",
    "label_balance.png",
    "roc.png",
    "calibration.png",
    "online_auc_over_time.png",
    "feature_importance.png",
)


def _is_timing(key: str) -> bool:
    """Throughputs (``plays_per_second``, ``wall_plays_per_second``...) measure the run, not the data."""
    return key.endswith("per_second")


runner = CliRunner()


def _evaluate_app() -> typer.Typer:
    """The `encore` app if it carries `evaluate`; else the same command function on its own app."""
    names = {c.name for c in app.registered_commands}
    if "evaluate" in names:
        return app
    from cli import evaluate

    own = typer.Typer()
    evaluate.register(own)
    own.command("noop", hidden=True)(lambda: None)  # keep `evaluate` a subcommand
    return own


@pytest.fixture(scope="module")
def slice_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not JODIE.exists():
        pytest.skip(f"shared data not present: {JODIE}")
    path = tmp_path_factory.mktemp("data") / "lastfm_head.tsv"
    with gzip.open(JODIE, "rt", encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        for i, line in enumerate(src):
            if i == SLICE_PLAYS:
                break
            out.write(line)
    return path


@pytest.fixture(scope="module")
def built(slice_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = runner.invoke(app, ["report", str(slice_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def evaluate_json(slice_file: Path) -> dict:
    result = runner.invoke(_evaluate_app(), ["evaluate", str(slice_file), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _assert_png(path: Path) -> None:
    assert path.is_file(), f"missing figure {path.name}"
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300, (path.name, image.shape)
    assert image.std() > 0.01, f"{path.name} is blank"


def test_every_figure_is_a_valid_png_linked_from_the_page(built: Path) -> None:
    for name in FIGURES:
        _assert_png(built / name)
    page = (built / "report.html").read_text(encoding="utf-8")
    linked = {part.split('"', 1)[0] for part in page.split('<img src="')[1:]}
    assert linked == set(FIGURES)
    assert {p.name for p in built.glob("*.png")} == set(FIGURES)
    # Self-contained: no script, no outside resource.
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_numbers_equal_encore_evaluate_json(built: Path, evaluate_json: dict) -> None:
    written = json.loads((built / "evaluation.json").read_text(encoding="utf-8"))
    assert written.keys() == evaluate_json.keys()
    for key in written:
        if not _is_timing(key):
            assert written[key] == evaluate_json[key], key
    assert evaluate_json["plays"] == SLICE_PLAYS and evaluate_json["test_size"] > 1000
    assert evaluate_json["lightgbm_auc_test"] is not None

    page = (built / "report.html").read_text(encoding="utf-8")
    cells = read_evaluation_cells(page)
    flat = flatten(evaluate_json)
    assert cells.keys() == flat.keys()
    assert cells == flatten(written)
    texts = read_evaluation_text(page)
    for key, expected in flat.items():
        if _is_timing(key):
            continue
        assert cells[key] == expected, key
        shown = texts[key]
        if key == "split_time":
            moment = datetime.strptime(shown, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
            assert moment.timestamp() == pytest.approx(expected, abs=1), key
        elif isinstance(expected, int | float) and not isinstance(expected, bool):
            assert float(shown.replace(",", "")) == expected, (key, shown)
        elif expected is None:
            assert shown == "-", key
        else:
            assert shown == str(expected), key


def test_durations_and_a_tiny_input(tmp_path: Path) -> None:
    """Plays that carry ms_played (short ones too) and a handful of listeners still give every figure."""
    rng = random.Random(7)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    plays = [
        PlayEvent(
            user_id=f"u{rng.randrange(6)}",
            track_id=f"t{rng.randrange(40)}",
            played_at=t0 + timedelta(hours=3 * i + rng.random()),
            ms_played=rng.choice([5_000, 12_000, 95_000, 180_000, 240_000]),
        )
        for i in range(1500)
    ]
    data = tmp_path / "plays.csv"
    with data.open("w", encoding="utf-8", newline="") as out:
        write_csv(plays, out)
    result = build_report([data], tmp_path / "out", progress=False)
    for path in result.figure_paths:
        _assert_png(path)
    short = next(f for f in result.figures if f.filename == "short_plays.png")
    assert short.numbers["share under 30 s (of known)"].endswith("%")
    assert result.evaluation["counts"]["short"] > 0
