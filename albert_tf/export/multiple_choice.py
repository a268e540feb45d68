"""Raw-text multiple choice (RACE) as a SavedModel: `serving_default` takes `article`,
`question` (string [batch]) and `options` (string [batch, num_choices]) and returns each
choice's `logits` and `probabilities` [batch, num_choices] and the chosen `answer` letter
[batch], as run_race predicts them (`data/race.py`'s packing, done in the graph: the
original's clean-up for a SentencePiece model, the `_` cloze rule, the choice cut to its
last `max_qa_length` tokens, the article to what is left, every row padded to the
request's longest). `serve_ids` takes packed features [batch, num_choices, seq].
"""

from typing import Callable, Dict, Sequence

import tensorflow as tf

from albert_tf.data.features import ENCODER_FEATURES
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits
from albert_tf.export.saved_model import ExportError, SERVE_IDS, SERVING_DEFAULT
from albert_tf.export.text_packing import checked_utf8
from albert_tf.models.multiple_choice import AlbertMultipleChoice

DEFAULT_WARMUP = ("The museum opened in 1901 and moved to the river bank in 1950.",
                  "When did the museum move?", ("1901", "1950", "1850", "never"))


def _fill_blanks(questions: tf.Tensor, options: tf.Tensor) -> tf.Tensor:
    """Each question [rows] with every `_` replaced by its row's option (Python's
    `str.replace`; the option is taken literally)."""
    parts = tf.strings.split(questions, "_")  # [rows, (blanks + 1)]
    last = tf.ragged.range(parts.row_lengths()).flat_values == tf.repeat(
        parts.row_lengths() - 1, parts.row_lengths())
    filled = tf.where(last, parts.flat_values, tf.strings.join(
        [parts.flat_values, tf.repeat(options, parts.row_lengths())]))
    return tf.strings.reduce_join(parts.with_flat_values(filled), axis=1)


class MultipleChoiceServingModule(tf.Module):
    """A multiple-choice model, its tokenizer and the serving functions.

    Args:
        model: An `AlbertMultipleChoice`.
        tokenizer: The model's tokenizer (SentencePiece or WordPiece).
        max_seq_length, max_qa_length: As run_race's flags (use the run's values).
        letters: The choices' names, in order (A, B, C, D).
    """

    def __init__(self, model: AlbertMultipleChoice, tokenizer: Tokenizer,
                 max_seq_length: int, max_qa_length: int, letters: Sequence[str]):
        super().__init__(name="albert_multiple_choice_serving")
        if not isinstance(model, AlbertMultipleChoice):
            raise ExportError(f"can export an AlbertMultipleChoice, not "
                              f"{type(model).__name__}")
        if len(letters) != model.num_choices:
            raise ExportError(f"{len(letters)} letters for {model.num_choices} choices")
        check_tokenizer_fits(tokenizer, model.albert_config.vocab_size)
        self.model = model
        self._tokenizer = tokenizer
        self.tokenizer_op = tokenizer.tf_tokenizer  # saved with the module
        self.tokenizer_file = tf.saved_model.Asset(tokenizer.source_file)
        self.max_seq_length = max_seq_length
        self.max_qa_length = max_qa_length
        self.letters = list(letters)

    def _cleaned(self, texts):
        preprocess = getattr(self._tokenizer, "preprocess_tf", None)
        return preprocess(texts) if preprocess else texts

    def pack(self, article, question, options) -> Dict[str, tf.Tensor]:
        """int32 features [batch, num_choices, width] (width: the longest row)."""
        choices = self.model.num_choices
        special = self._tokenizer.special_ids
        article, question = self._cleaned(article), self._cleaned(question)
        options = tf.reshape(self._cleaned(tf.reshape(options, [-1])), [-1, choices])
        asked = tf.reshape(tf.repeat(question[:, None], choices, axis=1), [-1])  # [rows]
        joined = tf.where(tf.strings.regex_full_match(asked, "(?s).*_.*"),
                          _fill_blanks(asked, tf.reshape(options, [-1])),
                          tf.strings.join([asked, tf.reshape(options, [-1])], " "))
        endings = self._tokenizer.encode_tf(joined)[:, -self.max_qa_length:]
        contexts = tf.gather(self._tokenizer.encode_tf(article),
                             tf.repeat(tf.range(tf.shape(article)[0]), choices))
        room = self.max_seq_length - 3 - endings.row_lengths()  # [rows]
        contexts = tf.ragged.boolean_mask(
            contexts, tf.ragged.range(contexts.row_lengths()) < room[:, None])
        rows = tf.shape(joined)[0]

        def column(value):
            return tf.fill([rows, 1], tf.constant(value, tf.int32))

        ids = tf.concat([column(special.cls), tf.cast(contexts, tf.int32), column(special.sep),
                         tf.cast(endings, tf.int32), column(special.sep)], axis=1)
        segments = tf.concat([tf.zeros_like(column(0)), tf.zeros_like(contexts, tf.int32),
                              tf.zeros_like(column(0)), tf.ones_like(endings, tf.int32),
                              tf.ones_like(column(0))], axis=1)
        features = {"input_ids": ids.to_tensor(), "input_mask": tf.ones_like(ids).to_tensor(),
                    "segment_ids": segments.to_tensor()}  # [rows, width]
        width = tf.shape(features["input_ids"])[1]
        return {name: tf.reshape(value, [-1, choices, width])
                for name, value in features.items()}

    def outputs(self, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        logits = tf.cast(self.model(features, training=False), tf.float32)  # [batch, c]
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1),
                "answer": tf.gather(tf.constant(self.letters), tf.argmax(logits, axis=-1))}

    def serve_text(self, article, question, options):
        choices = self.model.num_choices
        checks = [tf.debugging.assert_rank(article, 1, message="article must be [batch]"),
                  tf.debugging.assert_rank(question, 1, message="question must be [batch]"),
                  tf.debugging.assert_rank(options, 2, message=f"options must be [batch, "
                                                                f"{choices}]")]
        with tf.control_dependencies(checks):
            checks = [tf.debugging.assert_equal(
                tf.shape(options), tf.stack([tf.size(article), choices]),
                message=f"options must be [batch, {choices}] for a batch of articles"),
                tf.debugging.assert_equal(tf.size(question), tf.size(article),
                                          message="article and question must hold the "
                                                  "same number of texts")]
        with tf.control_dependencies(checks):
            article = checked_utf8(article, "article")
            question = checked_utf8(question, "question")
            options = tf.reshape(checked_utf8(tf.reshape(options, [-1]), "options"),
                                 [-1, choices])
            batch = tf.shape(article)[0]
        # An empty batch goes through as one empty question, of which nothing is returned.
        padding = tf.cast(tf.equal(batch, 0), tf.int32)
        article = tf.concat([article, tf.fill([padding], "")], 0)
        question = tf.concat([question, tf.fill([padding], "")], 0)
        options = tf.concat([options, tf.fill([padding, choices], "")], 0)
        outputs = self.outputs(self.pack(article, question, options))
        return {name: value[:batch] for name, value in outputs.items()}

    def serve_ids(self, input_ids, input_mask, segment_ids):
        return self.outputs({"input_ids": input_ids, "input_mask": input_mask,
                             "segment_ids": segment_ids})

    def signatures(self) -> Dict[str, Callable]:
        choices = self.model.num_choices
        text = {"article": tf.TensorSpec([None], tf.string, name="article"),
                "question": tf.TensorSpec([None], tf.string, name="question"),
                "options": tf.TensorSpec([None, choices], tf.string, name="options")}
        ids = {name: tf.TensorSpec([None, choices, None], tf.int32, name=name)
               for name in ENCODER_FEATURES}
        result = {SERVING_DEFAULT: tf.function(self.serve_text).get_concrete_function(**text),
                  SERVE_IDS: tf.function(self.serve_ids).get_concrete_function(**ids)}
        captured = {id(v): v for function in result.values() for v in function.variables}
        self.captured_variables = list(captured.values())
        return result

    def warmup_inputs(self, texts: Sequence[str]) -> Dict[str, Dict[str, tf.Tensor]]:
        """Signature name -> sample inputs (`texts`: article, question, then the options,
        for one question; default: a built-in one)."""
        choices = self.model.num_choices
        texts = list(texts)
        if len(texts) == 2 + choices:
            article, question, options = texts[0], texts[1], texts[2:]
        else:
            article, question, options = DEFAULT_WARMUP
            options = (list(options) * choices)[:choices]
        inputs = {"article": tf.constant([article]), "question": tf.constant([question]),
                  "options": tf.constant([list(options)])}
        return {SERVING_DEFAULT: inputs, SERVE_IDS: self.pack(**inputs)}
