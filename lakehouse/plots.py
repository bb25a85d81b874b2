"""Small PNG charts for asset metadata (histograms, bar charts), rendered off-screen."""

import io

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt

_FIGURE_SIZE = (6.0, 3.2)
_DPI = 100


def _to_png(figure: "plt.Figure") -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=_DPI)
    plt.close(figure)
    return buffer.getvalue()


def histogram_png(values: list[float], title: str, xlabel: str, bins: int = 40) -> bytes:
    """A histogram of `values` as PNG bytes."""
    figure, axis = plt.subplots(figsize=_FIGURE_SIZE)
    axis.hist(values, bins=bins, color="#3a6ea5")
    axis.set(title=title, xlabel=xlabel, ylabel="count")
    return _to_png(figure)


def bar_png(labels: list[str], counts: list[int], title: str, xlabel: str) -> bytes:
    """A horizontal bar chart of counts per label as PNG bytes."""
    figure, axis = plt.subplots(figsize=_FIGURE_SIZE)
    axis.barh(labels, counts, color="#3a6ea5")
    axis.invert_yaxis()
    axis.set(title=title, xlabel=xlabel)
    return _to_png(figure)


def graph_overview_png(
    degrees: list[int], predicates: list[tuple[str, int]], title: str = "knowledge graph"
) -> bytes:
    """Two panels as PNG bytes: the degree distribution (log-log) and the top predicates."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    positive = [degree for degree in degrees if degree > 0]
    if positive:
        values, counts = np.unique(positive, return_counts=True)
        left.loglog(values, counts, "o", markersize=3, color="#3a6ea5")
    left.set(
        title=f"{title}: degree distribution",
        xlabel="degree (distinct neighbours)",
        ylabel="entities",
    )
    labels = [label if len(label) <= 28 else label[:27] + "…" for label, _ in predicates]
    right.barh(labels, [count for _, count in predicates], color="#3a6ea5")
    right.invert_yaxis()
    right.tick_params(axis="y", labelsize=7)
    right.set(title="top predicates", xlabel="relations")
    return _to_png(figure)
