"""What the multi-stage runs report from: TensorBoard scalars, PNG curves, the machine."""

import glob
import os
import platform
from typing import Dict, List, Tuple

from albert_tf.io_utils import atomic_path

Series = List[Tuple[int, float]]


def read_scalars(logdir: str) -> Dict[str, Series]:
    """Every scalar of the TensorBoard event files in `logdir`, by tag, sorted by step; a
    step logged twice (a resumed run) keeps its last value.

    Example:

    >>> import tempfile, tensorflow as tf
    >>> logdir = tempfile.mkdtemp()
    >>> with tf.summary.create_file_writer(logdir).as_default():
    ...     _ = [tf.summary.scalar("loss", 1.0 / step, step=step) for step in (1, 2)]
    >>> read_scalars(logdir)["loss"]
    [(1, 1.0), (2, 0.5)]
    """
    import tensorflow as tf

    values: Dict[str, Dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = (float(tf.make_ndarray(value.tensor)) if value.HasField("tensor")
                          else float(value.simple_value))
                values.setdefault(value.tag, {})[int(event.step)] = number
    return {tag: sorted(by_step.items()) for tag, by_step in values.items()}


def plot_curves(panels: Dict[str, Dict[str, Series]], path: str, title: str) -> None:
    """One PNG with a panel per entry of `panels` ({panel title: {line label: series}})."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for axis, (panel, lines) in zip(axes[0], panels.items()):
        for label, series in lines.items():
            if series:
                steps, values = zip(*series)
                axis.plot(steps, values, marker="o" if len(series) < 12 else None,
                          markersize=4, label=label)
        axis.set_title(panel)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    pyplot.close(figure)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
