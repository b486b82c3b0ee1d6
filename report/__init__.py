"""`encore report`: EDA and evaluation figures (PNG) gathered in one ``report.html``.

One module per concern:

| module | what |
|---|---|
| `figure` | the figure record, the Agg backend, the shared style and PNG writer |
| `data_figures` | the plays themselves: volumes, time, short plays, replay rates, labels |
| `model_figures` | one `encore evaluate` run: ROC, calibration, AUC over time, importances |
| `html` | the self-contained ``report.html`` (relative PNG links, numbers beside) |
| `build` | orchestration with progress bars; writes ``evaluation.json`` too |

Plotting stays out of ``models/``: this package reads what
:func:`models.evaluation.evaluate` returns and draws it.
"""

from report.build import BuildResult, build_report

__all__ = ["BuildResult", "build_report"]
