"""How much each transformer layer changes its input: the paper's Figure 2.

For every block step `l` of the encoder (`num_hidden_layers * inner_group_num` of them,
the entries of `encoder_outputs`), the input is the hidden state before the step (the
embedding output for the first) and the output the state after it. Over the real tokens
of a text (padding excluded) this module averages the L2 distance `||out - in||` and the
cosine similarity `in . out / (||in|| ||out||)` per step. The paper found the transitions
of an all-shared ALBERT smoother than BERT's (L2 and cosine converging rather than
oscillating with depth).

Example:

>>> import numpy as np
>>> from albert_tf.config import AlbertConfig
>>> from albert_tf.models.encoder import AlbertEncoder
>>> encoder = AlbertEncoder(AlbertConfig.from_preset("tiny", vocab_size=40))
>>> batch = {"input_ids": np.array([[2, 7, 8, 3, 0]], "int32"),
...          "input_mask": np.array([[1, 1, 1, 1, 0]], "int32"),
...          "segment_ids": np.zeros((1, 5), "int32")}
>>> result = layer_transitions(encoder, [batch])
>>> len(result.l2_distance) == len(encoder.block_schedule), result.tokens
(True, 4)
"""

import dataclasses
from typing import Dict, Iterable, Iterator, List, Sequence

import numpy as np
import tensorflow as tf

from albert_tf.data.tokenizers import Tokenizer
from albert_tf.errors import AlbertTfError

Batch = Dict[str, np.ndarray]


class AnalysisError(AlbertTfError, ValueError):
    """Input the analysis cannot use; the message names the flag or file."""


@dataclasses.dataclass
class Transitions:
    """Per block step (index 0 is the first layer): mean L2 distance and cosine similarity
    between its input and output hidden states, over `tokens` real tokens."""

    l2_distance: List[float]
    cosine_similarity: List[float]
    tokens: int
    sequences: int

    def as_rows(self) -> List[Dict[str, float]]:
        return [{"layer": index + 1, "l2_distance": l2, "cosine_similarity": cosine}
                for index, (l2, cosine) in enumerate(zip(self.l2_distance,
                                                         self.cosine_similarity))]


def layer_transitions(encoder, batches: Iterable[Batch]) -> Transitions:
    """Mean L2 distance and cosine similarity of every block step's input and output over
    the real tokens (`input_mask` 1) of `batches` (dicts of int32 [batch, seq] arrays
    `input_ids`, `input_mask`, `segment_ids`), computed in float32."""

    @tf.function(reduce_retracing=True)
    def sums(input_ids, input_mask, segment_ids):
        embedded = encoder.embeddings(input_ids, segment_ids, training=False)  # [b, s, H]
        outputs = encoder({"input_ids": input_ids, "input_mask": input_mask,
                           "segment_ids": segment_ids}, training=False)
        states = [embedded] + list(outputs["encoder_outputs"])
        weights = tf.cast(input_mask, tf.float32)  # [b, s]
        l2_sums, cosine_sums = [], []
        for before, after in zip(states[:-1], states[1:]):
            before = tf.cast(before, tf.float32)
            after = tf.cast(after, tf.float32)
            distance = tf.norm(after - before, axis=-1)  # [b, s]
            cosine = tf.reduce_sum(before * after, axis=-1) / tf.maximum(
                tf.norm(before, axis=-1) * tf.norm(after, axis=-1), 1e-12)
            l2_sums.append(tf.reduce_sum(distance * weights))
            cosine_sums.append(tf.reduce_sum(cosine * weights))
        return tf.stack(l2_sums), tf.stack(cosine_sums), tf.reduce_sum(weights)

    steps = len(encoder.block_schedule)
    l2_total, cosine_total = np.zeros(steps), np.zeros(steps)
    tokens = sequences = 0
    for batch in batches:
        l2, cosine, count = sums(*(tf.constant(batch[name], tf.int32)
                                   for name in ("input_ids", "input_mask", "segment_ids")))
        l2_total += l2.numpy()
        cosine_total += cosine.numpy()
        tokens += int(count.numpy())
        sequences += len(batch["input_ids"])
    if tokens == 0:
        raise AnalysisError("the text holds no token to analyze")
    return Transitions((l2_total / tokens).tolist(), (cosine_total / tokens).tolist(),
                       tokens, sequences)


def text_sequences(documents: Iterable[Sequence[str]], tokenizer: Tokenizer,
                   max_seq_length: int, max_sequences: int) -> Iterator[List[int]]:
    """`[CLS] tokens [SEP]` sequences of at most `max_seq_length` ids cut from each
    document's running text (a document's sentences joined; never across documents), at
    most `max_sequences` of them."""
    special = tokenizer.special_ids
    room = max_seq_length - 2
    produced = 0
    for document in documents:
        tokens = [token for sentence in document for token in tokenizer.encode(sentence)]
        for start in range(0, len(tokens), room):
            if produced == max_sequences:
                return
            yield [special.cls] + tokens[start:start + room] + [special.sep]
            produced += 1


def batch_sequences(sequences: Iterable[List[int]], batch_size: int,
                    pad_id: int = 0) -> Iterator[Batch]:
    """Padded single-segment batches (each as long as its longest sequence)."""
    def pack(chunk):
        length = max(map(len, chunk))
        ids = np.full((len(chunk), length), pad_id, np.int32)
        mask = np.zeros((len(chunk), length), np.int32)
        for row, sequence in enumerate(chunk):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1
        return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}

    chunk: List[List[int]] = []
    for sequence in sequences:
        chunk.append(sequence)
        if len(chunk) == batch_size:
            yield pack(chunk)
            chunk = []
    if chunk:
        yield pack(chunk)


def record_batches(files: Sequence[str], max_seq_length: int, max_predictions_per_seq: int,
                   batch_size: int, max_sequences: int) -> Iterator[Batch]:
    """Batches of the first `max_sequences` pretraining records of `files`, in file order
    (their inputs as written: masked positions hold what the masking put there)."""
    from albert_tf.data.pretraining_dataset import pretraining_dataset

    dataset = pretraining_dataset(files, max_seq_length, max_predictions_per_seq, batch_size,
                                  is_training=False, drop_remainder=False)
    remaining = max_sequences
    for features in dataset:
        if remaining <= 0:
            return
        yield {name: features[name].numpy()[:remaining]
               for name in ("input_ids", "input_mask", "segment_ids")}
        remaining -= batch_size


def check_ids_fit(batches: Iterable[Batch], vocab_size: int, source: str) -> Iterator[Batch]:
    """Passes the batches on; an id outside the model's vocabulary is an error naming the
    text source (records made with another tokenizer than the model's)."""
    for batch in batches:
        largest = int(batch["input_ids"].max(initial=0))
        if largest >= vocab_size:
            raise AnalysisError(f"{source}: token id {largest} is outside the model's "
                                f"vocabulary of {vocab_size}; were the records made with "
                                "another tokenizer?")
        yield batch


def plot_transitions(results: Dict[str, Transitions], path: str, title: str = "") -> None:
    """The paper's Figure 2 as a PNG: L2 distance and cosine similarity of each layer's
    input and output embeddings, one line per model."""
    try:
        import matplotlib
    except ImportError:
        raise AnalysisError(f"{path}: the plot needs matplotlib (pip install "
                            "'albert_tf[demo]'); the numbers are written") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    from albert_tf.io_utils import atomic_path

    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4))
    for label, result in results.items():
        layers = np.arange(1, len(result.l2_distance) + 1)
        axes[0].plot(layers, result.l2_distance, marker="o", markersize=4, label=label)
        axes[1].plot(layers, result.cosine_similarity, marker="o", markersize=4, label=label)
    for axis, name in zip(axes, ("L2 distance", "Cosine similarity")):
        axis.set_title(name)
        axis.set_xlabel("layer")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    pyplot.close(figure)
