"""One self-contained ``report.html``: inline CSS, no script, figures as relative PNG links.

Every number of the `encore evaluate --json` object appears once in the evaluation
tables, in a cell marked ``data-key`` (the dotted key, e.g.
``heuristic_auc_test.recency``) and ``data-value`` (the JSON value), so a test or a
script can read them back from the page:

>>> page = render_html(
...     title="t", inputs=["plays.csv"], summary={"plays": "3"}, figures=[],
...     evaluation={"plays": 3, "online_auc_test": 0.8245, "heuristic_auc_test": {"recency": None}},
...     timings={}, generated_at="2024-01-01 00:00 UTC")
>>> read_evaluation_cells(page) == {"plays": 3, "online_auc_test": 0.8245, "heuristic_auc_test.recency": None}
True
>>> read_evaluation_text(page)["online_auc_test"], read_evaluation_text(page)["heuristic_auc_test.recency"]
('0.8245', '-')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from report.figure import ReportFigure

#: Rows of the AUC table, as `encore evaluate` prints them: (key, label).
AUC_ROWS: tuple[tuple[str, str], ...] = (
    ("online_auc_test", "online (Newton logistic regression, learns at horizon close)"),
    ("sklearn_logreg_auc_test", "sklearn logistic regression"),
    ("lightgbm_auc_test", "LightGBM"),
)

#: Labels of the other keys of the evaluation object.
RUN_LABELS: dict[str, str] = {
    "plays": "plays in the input",
    "labelled": "labelled plays (horizon inside the data)",
    "positive_rate": "positive rate of labelled plays",
    "online_auc": "online AUC over all labelled plays",
    "online_logloss_test": "online log loss on the test window",
    "plays_per_second": "features + labels + learner, plays per second (this run's own measure)",
    "wall_plays_per_second": "the same per wall-clock second (this run)",
    "split_time": "temporal split (test after)",
    "train_size": "batch train examples (label known at the split)",
    "test_size": "test window examples",
    "counts.duplicate": "duplicate plays",
    "counts.short": "short plays (not counted)",
    "counts.stale": "stale plays",
    "counts.late": "late plays",
    "format": "input format",
    "rejected": "rejected records",
}

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1300px;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: .2rem; }
h2 { border-bottom: 2px solid #0173b2; padding-bottom: .2rem; margin-top: 2.5rem; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .92rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .7rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f6f9; }
.row { display: flex; gap: 1.5rem; align-items: flex-start; flex-wrap: wrap; margin: 1.5rem 0; }
figure { margin: 0; flex: 1 1 640px; }
figure img { max-width: 100%; border: 1px solid #e5e5e5; }
figcaption { font-size: .88rem; color: #444; margin-top: .3rem; }
aside { flex: 0 1 420px; }
aside h3 { margin: 0 0 .3rem 0; font-size: 1.05rem; }
code { background: #f3f3f3; padding: 0 .2rem; }
"""


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``.

    >>> flatten({"a": {"b": 1}, "c": 2})
    {'a.b': 1, 'c': 2}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def display_value(key: str, value: Any) -> str:
    """How a value of the evaluation object is shown (numbers parse back with ``float``).

    >>> display_value("lightgbm_auc_test", 0.834), display_value("plays", 129310)
    ('0.8340', '129,310')
    >>> display_value("split_time", 1257553753.0)
    '2009-11-07 00:29:13 UTC'
    """
    if value is None:
        return "-"
    if key == "split_time":
        return f"{datetime.fromtimestamp(float(value), UTC):%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if key.endswith("per_second") else f"{value:.4f}"
    return str(value)


def _cell(key: str, value: Any) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return (
        f'<td class="{"num" if numeric else "txt"}" data-key="{escape(key)}" '
        f'data-value="{escape(json.dumps(value))}">{escape(display_value(key, value))}</td>'
    )


def evaluation_tables(evaluation: Mapping[str, Any]) -> str:
    """The AUC table (as `encore evaluate` prints it) and the run's other figures."""
    flat = flatten(evaluation)
    auc_rows = [(key, label) for key, label in AUC_ROWS if key in flat]
    auc_rows += [(k, f"heuristic: {k.split('.', 1)[1]}") for k in flat if k.startswith("heuristic_auc_test.")]
    shown = {k for k, _ in auc_rows}
    parts = ['<table class="evaluation" id="auc"><tr><th>model</th><th>AUC on the test window</th></tr>']
    parts += [f"<tr><td>{escape(label)}</td>{_cell(key, flat[key])}</tr>" for key, label in auc_rows]
    parts.append("</table>")
    parts.append('<table class="evaluation" id="run"><tr><th>run</th><th>value</th></tr>')
    for key, value in flat.items():
        if key in shown:
            continue
        parts.append(f"<tr><td>{escape(RUN_LABELS.get(key, key))}</td>{_cell(key, value)}</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def _numbers_table(numbers: Mapping[str, str]) -> str:
    rows = "".join(
        f'<tr><td>{escape(k)}</td><td class="num">{escape(v)}</td></tr>' for k, v in numbers.items()
    )
    return f"<table>{rows}</table>"


def _figure_block(fig: ReportFigure) -> str:
    return (
        f'<div class="row" id="{escape(Path(fig.filename).stem)}">'
        f'<figure><img src="{escape(fig.filename)}" alt="{escape(fig.title)}">'
        f"<figcaption>{escape(fig.caption)}</figcaption></figure>"
        f"<aside><h3>{escape(fig.title)}</h3>{_numbers_table(fig.numbers)}</aside></div>"
    )


def render_html(
    *,
    title: str,
    inputs: Sequence[str],
    summary: Mapping[str, str],
    figures: Sequence[ReportFigure],
    evaluation: Mapping[str, Any],
    timings: Mapping[str, float],
    generated_at: str,
) -> str:
    """The whole page as one string."""
    data_figs = [f for f in figures if f.section == "data"]
    model_figs = [f for f in figures if f.section == "model"]
    timing = ", ".join(f"{escape(k)} {v:.1f} s" for k, v in timings.items())
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Generated {escape(generated_at)} from {escape(", ".join(inputs))}. '
        f"{'Time taken: ' + timing + '.' if timing else ''}</p>",
        "<h2>The data</h2>",
        _numbers_table(summary),
        *(_figure_block(f) for f in data_figs),
        "<h2>Evaluation (<code>encore evaluate</code>)</h2>",
        "<p>Same numbers as <code>encore evaluate --json</code> on the same input (also written beside "
        'this page as <a href="evaluation.json">evaluation.json</a>). Plays are replayed in event-time '
        "order through the stream's own feature and label code; the online model predicts each play "
        "before learning it; batch models train on plays whose label was known at the temporal split "
        "and are scored on the labelled plays after it.</p>",
        '<div class="row"><div>',
        evaluation_tables(evaluation),
        "</div></div>",
        *(_figure_block(f) for f in model_figs),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


class _CellReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        key, value = found.get("data-key"), found.get("data-value")
        if tag == "td" and key is not None and value is not None:
            self.values[key] = json.loads(value)
            self.texts[key] = ""
            self._open = key

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.texts[self._open] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._open = None


def read_evaluation_cells(page: str) -> dict[str, Any]:
    """The evaluation numbers of a rendered page: dotted key -> JSON value (``data-value``)."""
    reader = _CellReader()
    reader.feed(page)
    return reader.values


def read_evaluation_text(page: str) -> dict[str, str]:
    """The evaluation cells of a rendered page as a reader sees them: dotted key -> text.

    >>> read_evaluation_text('<td data-key="plays" data-value="3">3</td>')
    {'plays': '3'}
    """
    reader = _CellReader()
    reader.feed(page)
    return reader.texts
