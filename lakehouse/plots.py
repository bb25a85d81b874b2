"""Small PNG charts for asset metadata (histograms, bar charts), rendered off-screen."""

import io

import matplotlib

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
