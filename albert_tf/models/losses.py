"""Every training objective, written once: masked LM + sentence order for pretraining,
cross-entropy for classification, squared error for regression and span cross-entropy for
question answering, as the original's run_pretraining / run_classifier / run_squad compute
them. Each returns batch means (what a model's
user reads) and the training loop scales them into per-replica contributions."""

from typing import Dict

from keras import ops

# The original adds this to the weight sum so a batch without predictions divides safely.
_WEIGHT_EPSILON = 1e-5


def pretraining_losses(
    mlm_logits, sop_logits, masked_lm_ids, masked_lm_weights, sentence_order_labels
) -> Dict[str, object]:
    """Computes ALBERT's pretraining objective.

    Args:
        mlm_logits: float32 [batch, P, V] logits at the masked positions.
        sop_logits: float32 [batch, 2] sentence-order logits.
        masked_lm_ids: int [batch, P] original ids at the masked positions.
        masked_lm_weights: float [batch, P], 1 for real predictions, 0 for padding.
        sentence_order_labels: int [batch] (or [batch, 1]), 1 = segments swapped.

    Returns:
        A dict of scalars: `loss` (= `mlm_loss + sop_loss`), `mlm_loss` (the weighted
        mean cross-entropy over real predictions), `sop_loss`, `mlm_accuracy`,
        `sop_accuracy`, plus the unnormalized `mlm_loss_sum`, `mlm_correct_sum` and
        `mlm_weight_sum`, so callers that split a batch across replicas can normalize by
        the global weight sum.

    Example:

    >>> import numpy as np
    >>> losses = pretraining_losses(np.zeros((1, 2, 4), "float32"), np.zeros((1, 2), "float32"),
    ...                             np.array([[1, 2]]), np.array([[1.0, 0.0]]), np.array([0]))
    >>> round(float(losses["mlm_loss"]), 4)  # log(4): uniform over 4 ids
    1.3863
    """
    masked_lm_ids = ops.cast(masked_lm_ids, "int32")
    weights = ops.cast(masked_lm_weights, "float32")
    mlm_logits = ops.cast(mlm_logits, "float32")
    sop_logits = ops.cast(sop_logits, "float32")
    labels = ops.reshape(ops.cast(sentence_order_labels, "int32"), (-1,))

    token_losses = ops.sparse_categorical_crossentropy(
        masked_lm_ids, mlm_logits, from_logits=True)  # [batch, P]
    mlm_loss_sum = ops.sum(token_losses * weights)
    mlm_weight_sum = ops.sum(weights)
    mlm_correct = ops.cast(
        ops.equal(ops.cast(ops.argmax(mlm_logits, axis=-1), "int32"), masked_lm_ids), "float32")
    mlm_correct_sum = ops.sum(mlm_correct * weights)
    mlm_loss = mlm_loss_sum / (mlm_weight_sum + _WEIGHT_EPSILON)

    sop_loss = ops.mean(
        ops.sparse_categorical_crossentropy(labels, sop_logits, from_logits=True))
    sop_accuracy = ops.mean(
        ops.cast(ops.equal(ops.cast(ops.argmax(sop_logits, axis=-1), "int32"), labels), "float32"))
    return {
        "loss": mlm_loss + sop_loss,
        "mlm_loss": mlm_loss,
        "sop_loss": sop_loss,
        "mlm_accuracy": mlm_correct_sum / (mlm_weight_sum + _WEIGHT_EPSILON),
        "sop_accuracy": sop_accuracy,
        "mlm_loss_sum": mlm_loss_sum,
        "mlm_correct_sum": mlm_correct_sum,
        "mlm_weight_sum": mlm_weight_sum,
    }


def classification_losses(logits, labels) -> Dict[str, object]:
    """Mean softmax cross-entropy and accuracy of float [batch, classes] logits against
    int [batch] label ids.

    Example:

    >>> import numpy as np
    >>> losses = classification_losses(np.array([[0.0, 0.0], [2.0, 0.0]], "float32"),
    ...                                np.array([1, 0]))
    >>> round(float(losses["loss"]), 4), float(losses["accuracy"])
    (0.41, 0.5)
    """
    logits = ops.cast(logits, "float32")
    labels = ops.cast(labels, "int32")
    loss = ops.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    predictions = ops.cast(ops.argmax(logits, axis=-1), "int32")
    accuracy = ops.mean(ops.cast(ops.equal(predictions, labels), "float32"))
    return {"loss": loss, "accuracy": accuracy}


def regression_losses(scores, labels) -> Dict[str, object]:
    """Mean squared error of float [batch, 1] (or [batch]) scores against float [batch]
    targets (STS-B's similarity).

    Example:

    >>> import numpy as np
    >>> float(regression_losses(np.array([[1.0], [3.0]], "float32"), np.array([2.0, 3.0]))["loss"])
    0.5
    """
    scores = ops.reshape(ops.cast(scores, "float32"), (-1,))
    return {"loss": ops.mean(ops.square(scores - ops.cast(labels, "float32")))}


def span_losses(start_logits, end_logits, start_positions, end_positions) -> Dict[str, object]:
    """The original run_squad_v1 objective: the mean of the start and end positions'
    softmax cross-entropies over the sequence, with the accuracy of both ends.

    Example:

    >>> import numpy as np
    >>> losses = span_losses(np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"),
    ...                      np.array([1]), np.array([2]))
    >>> round(float(losses["loss"]), 4)  # log(4): uniform over 4 positions
    1.3863
    """
    start_positions = ops.reshape(ops.cast(start_positions, "int32"), (-1,))
    end_positions = ops.reshape(ops.cast(end_positions, "int32"), (-1,))
    start_loss = ops.mean(ops.sparse_categorical_crossentropy(
        start_positions, ops.cast(start_logits, "float32"), from_logits=True))
    end_loss = ops.mean(ops.sparse_categorical_crossentropy(
        end_positions, ops.cast(end_logits, "float32"), from_logits=True))
    both_right = ops.logical_and(
        ops.equal(ops.cast(ops.argmax(start_logits, axis=-1), "int32"), start_positions),
        ops.equal(ops.cast(ops.argmax(end_logits, axis=-1), "int32"), end_positions))
    return {"loss": (start_loss + end_loss) / 2.0,
            "span_accuracy": ops.mean(ops.cast(both_right, "float32"))}


def answerability_span_losses(start_logits, end_logits, cls_logits, start_positions,
                              end_positions, is_impossible) -> Dict[str, object]:
    """The original run_squad_v2 objective: the mean of the start and end cross-entropies
    plus half the sigmoid cross-entropy of the answerability logit against
    `is_impossible` (unanswerable windows point start and end at [CLS]).

    Example:

    >>> import numpy as np
    >>> losses = answerability_span_losses(
    ...     np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"), np.zeros(1, "float32"),
    ...     np.array([1]), np.array([2]), np.array([0]))
    >>> round(float(losses["loss"]), 4)  # log(4) + log(2) / 2
    1.7329
    """
    losses = span_losses(start_logits, end_logits, start_positions, end_positions)
    labels = ops.reshape(ops.cast(is_impossible, "float32"), (-1,))
    cls_logits = ops.reshape(ops.cast(cls_logits, "float32"), (-1,))
    answerability_loss = ops.mean(ops.binary_crossentropy(labels, cls_logits, from_logits=True))
    return {"loss": losses["loss"] + 0.5 * answerability_loss,
            "span_accuracy": losses["span_accuracy"],
            "answerability_loss": answerability_loss}
