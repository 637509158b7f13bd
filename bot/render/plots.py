"""report.html's plots: the curves of both models, computed at evaluate time and drawn as static SVG.

`curve_data` runs inside `mlgate evaluate`, where the scores exist, and condenses them into
the report's `models[].curves` (a few kilobytes: ROC and precision-recall curves at 101
thresholds, a calibration table, a confusion matrix, a sample of regression residuals), in
passes over the scores without sorting the holdout.
`render_plots` draws them with matplotlib (the `plots` extra) as SVG for report.html: no
script, no external reference, text escaped by matplotlib's SVG writer, math text off.
A report is untrusted, so only schema-checked numbers and clipped labels reach matplotlib.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.render.text import clip

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes

GRID = 8192  # equal-width score bins the ROC and precision-recall thresholds are chosen from
CURVE_POINTS = 101  # points kept of a ROC or precision-recall curve
CALIBRATION_BINS = 10
MAX_CLASSES = 20  # a confusion matrix larger than this is not drawn
RESIDUAL_POINTS = 300
PLOTS_MISSING = "Plots need matplotlib: pip install 'mlgate[plots]' and render again (mlgate render REPORT --format html)."
ROLES = ("candidate", "baseline")
COLORS = {"candidate": "#0969da", "baseline": "#8c959f"}


# ---------------------------------------------------------------- at evaluate time


def curve_data(task: str, y: Any, candidate: Any, baseline: Any | None,
               classes: Sequence[Any] | None) -> dict[str, Any]:
    """The report's `curves` for one model: per role, what the plots need and nothing more."""
    import numpy as np

    labels = np.asarray(y)
    out: dict[str, Any] = {}
    for role, scores in (("candidate", candidate), ("baseline", baseline)):
        if scores is None:
            continue
        s = np.asarray(scores, dtype=np.float64)
        probabilities = bool(np.all((s >= 0) & (s <= 1)))  # else calibration and a 0.5 cut mean nothing
        if task == "binary":
            yy = labels.astype(np.int64)
            out[role] = _roc_pr(yy, s)
            if probabilities:
                out[role]["calibration"] = _calibration(yy, s)
                out[role]["confusion"] = _confusion(yy, (s >= 0.5).astype(np.int64), ["0", "1"])
        elif task == "multiclass" and probabilities and classes is not None and len(classes) <= MAX_CLASSES:
            index = {c: i for i, c in enumerate(classes)}
            yy = np.array([index[v] for v in labels.tolist()], dtype=np.int64)
            top = s.argmax(axis=1)
            out[role] = {"calibration": _calibration((top == yy).astype(np.int64), s.max(axis=1)),
                         "confusion": _confusion(yy, top, [clip(c, 40) for c in classes])}
        elif task == "regression":
            out[role] = {"residuals": _residuals(labels.astype(np.float64), s)}
    return out


def _ranked(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at up to `CURVE_POINTS` thresholds, highest score first.

    The scores fall into `GRID` equal-width bins (one pass, no sort of the holdout), and the
    thresholds are the bin edges where the rows above them reach 0, 1/100, ... of the holdout,
    so the points are spread along the curve wherever the scores are dense."""
    import numpy as np

    lo, hi = float(s.min()), float(s.max())
    bins = np.minimum(((hi - s) * (GRID / ((hi - lo) or 1.0))).astype(np.int64), GRID - 1)  # 0: the highest
    rows = np.cumsum(np.bincount(bins, minlength=GRID))
    tp = np.cumsum(np.bincount(bins, weights=y, minlength=GRID))
    picks = np.unique(np.searchsorted(rows, np.linspace(0, rows[-1], CURVE_POINTS)))
    picks = picks[rows[picks] > 0]
    return tp[picks], rows[picks] - tp[picks]


def _points(*arrays: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 5) for v in a] for a in arrays]


def _roc_pr(y: np.ndarray, s: np.ndarray) -> dict[str, dict[str, list[float]]]:
    import numpy as np

    tp, fp = _ranked(y, s)
    pos, neg = max(int(y.sum()), 1), max(len(y) - int(y.sum()), 1)
    fpr, tpr = _points(np.r_[0.0, fp / neg], np.r_[0.0, tp / pos])
    recall, precision = _points(tp / pos, tp / (tp + fp))
    return {"roc": {"fpr": fpr, "tpr": tpr}, "pr": {"recall": recall, "precision": precision}}


def _calibration(y: np.ndarray, p: np.ndarray) -> dict[str, list[float] | list[int]]:
    import numpy as np

    bins = np.clip((p * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1)
    count = np.bincount(bins, minlength=CALIBRATION_BINS)
    used = count > 0
    pred = np.bincount(bins, weights=p, minlength=CALIBRATION_BINS)[used] / count[used]
    obs = np.bincount(bins, weights=y, minlength=CALIBRATION_BINS)[used] / count[used]
    return {"predicted": [round(float(v), 5) for v in pred], "observed": [round(float(v), 5) for v in obs],
            "count": [int(c) for c in count[used]]}


def _confusion(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    import numpy as np

    k = len(labels)
    matrix = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    return {"labels": [str(v) for v in labels], "matrix": matrix.tolist()}


def _residuals(y: np.ndarray, pred: np.ndarray) -> dict[str, list[float]]:
    """Every (n / RESIDUAL_POINTS)-th row, in the order of their predictions."""
    import numpy as np

    rows = np.unique(np.linspace(0, len(pred) - 1, min(len(pred), RESIDUAL_POINTS)).round().astype(np.int64))
    keep = rows[np.argsort(pred[rows], kind="mergesort")]
    return {"predicted": [float(f"{v:.6g}") for v in pred[keep]],
            "residual": [float(f"{v:.6g}") for v in (y - pred)[keep]]}


# ---------------------------------------------------------------- in report.html


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_plots(curves: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    """[{title, svg}] for one model's curves; `prefix` keeps the SVG element ids of models apart."""
    roles = [r for r in ROLES if isinstance(curves.get(r), dict)]
    out: list[dict[str, str]] = []
    for kind, title, draw in (("roc", "ROC curve", _draw_roc), ("pr", "Precision-recall curve", _draw_pr),
                              ("calibration", "Calibration", _draw_calibration),
                              ("residuals", "Residuals (label − prediction)", _draw_residuals)):
        layers: list[Layer] = [(draw, r, curves[r][kind]) for r in roles if kind in curves[r]]
        if layers:
            out.append({"title": title, "svg": _svg(layers, f"{prefix}{kind}")})
    for r in roles:
        confusion = curves[r].get("confusion")
        if confusion and len(confusion["labels"]) <= MAX_CLASSES:
            out.append({"title": f"Confusion matrix, {r}",
                        "svg": _svg([(_draw_confusion, r, confusion)], f"{prefix}cm{r}", square=True)})
    return out


Layer = tuple[Callable[["Axes", str, Any], None], str, Any]


def _svg(layers: Sequence[Layer], prefix: str, square: bool = False) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "mlgate",
                                "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(figsize=(3.6, 3.4) if square else (4.2, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for draw, role, data in layers:
            draw(ax, role, data)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buf.getvalue(), prefix)


def _inline(svg: str, prefix: str) -> str:
    """The SVG element alone, its ids prefixed (several plots share one page), refused if it could act."""
    svg = svg[svg.index("<svg"):]
    for ident in set(re.findall(r'\bid="([^"]+)"', svg)):
        svg = re.sub(rf'(id="|#){re.escape(ident)}(?=["\)])', rf"\g<1>{prefix}-{ident}", svg)
    if re.search(r"<script|<foreignObject|\bon\w+\s*=|(?<!xlink:)href=|xlink:href=\"(?!#)|url\((?!#)", svg, re.I):
        raise ValueError("matplotlib wrote an SVG with an active or external part; refusing to embed it")
    return svg


def _draw_roc(ax: Axes, role: str, c: dict[str, list[float]]) -> None:
    ax.plot(c["fpr"], c["tpr"], color=COLORS[role], label=role, lw=1.6 if role == "candidate" else 1.2)
    ax.plot([0, 1], [0, 1], color="#d0d7de", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", frameon=False)


def _draw_pr(ax: Axes, role: str, c: dict[str, list[float]]) -> None:
    ax.plot(c["recall"], c["precision"], color=COLORS[role], label=role, lw=1.6 if role == "candidate" else 1.2)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", frameon=False)


def _draw_calibration(ax: Axes, role: str, c: dict[str, list[float]]) -> None:
    ax.plot([0, 1], [0, 1], color="#d0d7de", lw=0.8, ls="--")
    ax.plot(c["predicted"], c["observed"], marker="o", ms=3, color=COLORS[role], label=role)
    ax.set(xlabel="mean predicted probability", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper left", frameon=False)


def _draw_residuals(ax: Axes, role: str, c: dict[str, list[float]]) -> None:
    ax.scatter(c["predicted"], c["residual"], s=5, alpha=0.5, color=COLORS[role], label=role, linewidths=0)
    ax.axhline(0, color="#57606a", lw=0.8)
    ax.set(xlabel="prediction", ylabel="residual")
    ax.legend(loc="upper left", frameon=False)


def _draw_confusion(ax: Axes, role: str, c: dict[str, Any]) -> None:
    import numpy as np

    labels = [clip(v, 16) for v in c["labels"]]
    matrix = c["matrix"]
    k = len(labels)
    ax.pcolormesh(np.arange(k + 1) - 0.5, np.arange(k + 1) - 0.5, np.array(matrix), cmap="Blues")  # vector, no raster
    ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    ax.set(xlabel="predicted", ylabel="actual")
    values = [v for row in matrix for v in row]
    lo, span = min(values, default=0), (max(values, default=0) - min(values, default=0)) or 1
    if k <= 10:
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):  # white on the dark half of the colour map
                ax.text(j, i, f"{v:,}", ha="center", va="center", fontsize=8,
                        color="white" if (v - lo) / span > 0.5 else "#1f2328")
