"""Raw text to model inputs inside a TensorFlow graph, equal to the Python fine-tuning path.

`TextPacker` cleans and tokenizes with tensorflow-text's SentencePiece op, then packs with
`data.packing.pack_tf`: the same truncation and `[CLS] a [SEP] (b [SEP])` layout as the
records `run_classifier` trains on, padded only to the longest sequence of the batch (at
most max_seq_length).
"""

from typing import Dict, Optional

import tensorflow as tf

from albert_tf.data.packing import check_sequence_length, pack_tf
from albert_tf.data.tokenizers import Tokenizer


def checked_utf8(texts: tf.Tensor, name: str) -> tf.Tensor:
    """`texts` once every one is valid UTF-8; otherwise the request fails with an
    INVALID_ARGUMENT naming the input and the batch positions (instead of an error deep
    inside the tokenizer). Replacing invalid bytes changes a text exactly when it is not
    valid UTF-8.

    >>> checked_utf8(tf.constant(["ok", "caf\\u00e9"]), "text_a").numpy().tolist()
    [b'ok', b'caf\\xc3\\xa9']
    >>> checked_utf8(tf.constant([b"ok", b"\\xff\\xfe"]), "text_a")
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...text_a holds text that is not valid UTF-8, at batch positions:...
    """
    repaired = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace",
                                            replacement_char=0xFFFD)
    invalid = tf.not_equal(repaired, texts)
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(invalid)),
        [f"{name} holds text that is not valid UTF-8, at batch positions:",
         tf.reshape(tf.where(invalid), [-1])], summarize=20)
    with tf.control_dependencies([check]):
        return tf.identity(texts)


class TextPacker(tf.Module):
    """Strings [batch] (and a second segment) to int32 input_ids/input_mask/segment_ids.

    Args:
        tokenizer: The model's tokenizer, SentencePiece or WordPiece (its tensorflow-text
            op is saved with the module; lower-casing and accent handling follow it).
        max_seq_length: Longest packed sequence, special tokens included.

    Example:

    >>> import os, tempfile
    >>> from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece
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

    def __init__(self, tokenizer: Tokenizer, max_seq_length: int, name=None):
        super().__init__(name=name)
        check_sequence_length(max_seq_length, None)
        # Held as an attribute so the tokenizer's resources are saved with the module.
        self.tokenizer_op = tokenizer.tf_tokenizer
        self._tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """string [batch] -> int32 ids [batch, (tokens)] without special tokens."""
        return self._tokenizer.encode_tf(texts)

    def __call__(self, text_a: tf.Tensor, text_b: Optional[tf.Tensor] = None
                 ) -> Dict[str, tf.Tensor]:
        ids_a = self.tokenize(text_a)
        ids_b = None
        if text_b is not None:
            with tf.control_dependencies([tf.debugging.assert_equal(
                    tf.size(text_a), tf.size(text_b),
                    message="text_a and text_b must hold the same number of texts")]):
                ids_b = self.tokenize(tf.identity(text_b))
        return pack_tf(ids_a, ids_b, self.max_seq_length,  # [batch, seq] each
                       self._tokenizer.special_ids)
