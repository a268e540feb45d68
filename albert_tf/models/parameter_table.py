"""Parameter counts of a built ALBERT pretraining model, by component."""

from typing import Dict, Iterable

import numpy as np

COMPONENTS = ("embedding", "projection", "transformer", "pooler", "mlm_head", "sop_head")


def parameter_breakdown(pretrainer) -> Dict[str, int]:
    """Counts the parameters of an `AlbertPretrainer` per component, each variable once.

    Components: `embedding` (word, position, token-type tables and their LayerNorm),
    `projection` (E -> H), `transformer` (every distinct block, shared ones once),
    `pooler`, `mlm_head` (without the tied word table) and `sop_head`, plus `total`.

    Example:

    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.models import AlbertPretrainer
    >>> counts = parameter_breakdown(AlbertPretrainer(AlbertConfig.from_preset("tiny")))
    >>> counts["total"] == sum(counts[name] for name in COMPONENTS)
    True
    """
    encoder = pretrainer.encoder
    projection = encoder.embeddings.projection
    groups = {
        "projection": projection.weights if projection is not None else [],
        "embedding": encoder.embeddings.weights,
        "transformer": [w for block in encoder.transformer_blocks for w in block.weights],
        "pooler": encoder.pooler.weights,
        "mlm_head": pretrainer.mlm_head.weights,
        "sop_head": pretrainer.sop_head.weights,
    }
    counted = set()
    breakdown = {}
    # Projection first so the embedding layer's own count excludes it; the MLM head comes
    # after the embedding so its tied word table is not counted twice.
    for name in ("projection", "embedding", "transformer", "pooler", "mlm_head", "sop_head"):
        breakdown[name] = _count_new(groups[name], counted)
    breakdown = {name: breakdown[name] for name in COMPONENTS}
    breakdown["total"] = sum(breakdown.values())
    if breakdown["total"] != pretrainer.count_params():
        raise AssertionError(
            f"component counts add up to {breakdown['total']} but the model has "
            f"{pretrainer.count_params()} parameters"
        )
    return breakdown


def _count_new(variables: Iterable, counted: set) -> int:
    total = 0
    for variable in variables:
        if id(variable) not in counted:
            counted.add(id(variable))
            total += int(np.prod(variable.shape))
    return total


def format_parameter_table(breakdown: Dict[str, int], title: str = "") -> str:
    """Renders a breakdown as an aligned text table with counts and shares."""
    total = breakdown["total"]
    lines = [title] if title else []
    lines.append(f"{'component':<12} {'parameters':>14} {'share':>7}")
    lines.append("-" * 35)
    for name in COMPONENTS + ("total",):
        share = 100.0 * breakdown[name] / total if total else 0.0
        lines.append(f"{name:<12} {breakdown[name]:>14,} {share:>6.1f}%")
    lines.append(f"{'':<12} {total / 1e6:>13.2f}M")
    return "\n".join(lines)
