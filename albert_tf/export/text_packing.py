"""Raw text to model inputs inside a TensorFlow graph, equal to the Python fine-tuning path.

`TextPacker` cleans and tokenizes with tensorflow-text's SentencePiece op, truncates
longest-first and packs `[CLS] a [SEP] (b [SEP])` exactly as `classifier_data.pack`
does, but pads only to the longest sequence of the batch (at most max_seq_length): the
padding is masked, so outputs are the same and short requests cost less.
"""

from typing import Dict, Optional

import tensorflow as tf

from albert_tf.data.tokenization import CLS_ID, SEP_ID, AlbertTokenizer


def _keep_first(ids: tf.RaggedTensor, counts: tf.Tensor) -> tf.RaggedTensor:
    """The first counts[i] ids of row i."""
    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < tf.expand_dims(counts, 1))


def truncate_longest_first_tf(ids_a: tf.RaggedTensor, ids_b: tf.RaggedTensor,
                              max_tokens: int):
    """The graph form of `truncate_longest_first`: both rows fit max_tokens together,
    the longer one shrinking first and b losing a tie.

    Removing one token at a time from the longer list ends, when anything is removed, with
    a at max(max_tokens - len(b), ceil(max_tokens / 2)) (if a was that long) and b
    filling what is left, which is what this computes in closed form.
    """
    length_a, length_b = ids_a.row_lengths(), ids_b.row_lengths()  # [batch] int64
    budget = tf.constant(max_tokens, tf.int64)
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
    keep_b = tf.minimum(length_b, budget - keep_a)
    return _keep_first(ids_a, keep_a), _keep_first(ids_b, keep_b)


class TextPacker(tf.Module):
    """Strings [batch] (and a second segment) to int32 input_ids/input_mask/segment_ids.

    Args:
        tokenizer: The `AlbertTokenizer` of the model (its SentencePiece proto is
            embedded in the graph; lower-casing and accent handling follow it).
        max_seq_length: Longest packed sequence, special tokens included.

    Example:

    >>> import os, tempfile
    >>> from albert_tf.data.tokenization import train_sentencepiece
    >>> folder = tempfile.mkdtemp()
    >>> corpus = os.path.join(folder, "corpus.txt")
    >>> _ = open(corpus, "w").write("the cat sat on the mat\\nthe dog sat on the log\\n" * 50)
    >>> packer = TextPacker(AlbertTokenizer(train_sentencepiece(
    ...     [corpus], os.path.join(folder, "spm"), vocab_size=40)), max_seq_length=8)
    >>> features = packer(tf.constant(["the cat", "the dog sat on the log"]))
    >>> features["input_ids"].shape.as_list()  # the longer text fills max_seq_length
    [2, 8]
    >>> features["input_ids"].numpy()[:, 0].tolist(), int(features["input_ids"][1, -1])
    ([2, 2], 3)
    """

    def __init__(self, tokenizer: AlbertTokenizer, max_seq_length: int, name=None):
        super().__init__(name=name)
        if max_seq_length < 5:
            raise ValueError(f"max_seq_length must be at least 5, got {max_seq_length}")
        # Held as an attribute so the SentencePiece resource is saved with the module.
        self.sentencepiece = tokenizer.tf_tokenizer
        self._tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """string [batch] -> int32 ids [batch, (tokens)] without special tokens."""
        return self._tokenizer.encode_tf(texts)

    def __call__(self, text_a: tf.Tensor, text_b: Optional[tf.Tensor] = None
                 ) -> Dict[str, tf.Tensor]:
        ids_a = self.tokenize(text_a)
        batch = ids_a.nrows()
        if text_b is None:
            ids_a = _keep_first(ids_a, tf.fill([batch], tf.constant(self.max_seq_length - 2,
                                                                    tf.int64)))
            segments = [ids_a]
        else:
            with tf.control_dependencies([tf.debugging.assert_equal(
                    tf.size(text_a), tf.size(text_b),
                    message="text_a and text_b must hold the same number of texts")]):
                ids_b = self.tokenize(tf.identity(text_b))
            segments = list(truncate_longest_first_tf(ids_a, ids_b, self.max_seq_length - 3))
        def special(token):
            return tf.RaggedTensor.from_tensor(tf.fill([batch, 1], token))

        pieces, segment_pieces = [special(CLS_ID)], []
        for index, ids in enumerate(segments):
            pieces += [ids, special(SEP_ID)]
            length = tf.cast(ids.row_lengths(), tf.int32) + (2 if index == 0 else 1)
            segment_pieces.append(tf.zeros_like(tf.ragged.range(length)) + index)
        input_ids = tf.concat(pieces, axis=1)  # [batch, (seq)]
        segment_ids = tf.concat(segment_pieces, axis=1)
        return {"input_ids": input_ids.to_tensor(0),  # [batch, seq]
                "input_mask": tf.ones_like(input_ids).to_tensor(0),
                "segment_ids": segment_ids.to_tensor(0)}
