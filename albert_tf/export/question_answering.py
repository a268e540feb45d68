"""Raw-text extractive question answering as a SavedModel: `serving_default` takes
`question` and `context` strings and returns each question's answer, found in the graph
exactly as `run_squad.py --do_predict` finds it.

In the graph, per request: the question is tokenized and cut to `max_query_length`; the
context is tokenized with each token's characters in the raw context
(`encode_with_offsets_tf`); the context is cut into the original's doc-stride windows
(`squad.doc_windows`), each packed `[CLS] question [SEP] window [SEP]` and padded to
`max_seq_length` (as the records `run_squad` predicts from, so logits and the top-n
candidates are the same); each token's max-context window is found by the original's
rule; the model runs over every window at once; and the best span is chosen as
`squad.best_spans` (SQuAD v1.1 and the null-score v2 head) or
`squad.best_spans_with_null` (the original v2 answerability head) choose it: the
`n_best_size` best starts and ends of each window (the beams of the v2 head), both on
context tokens, in order, at most `max_answer_length` tokens, the start in its
max-context window, scored in float64, ties to the earlier candidate.

Outputs ([batch] each): `answer` (the raw context between the answer's first and last
characters, "" when there is none or, v2, when the question is judged unanswerable),
`answer_start` / `answer_end` (its characters in the given context, end exclusive; -1
without an answer), `score` (start + end logit, or log-probability for the v2 head; the
float32 minimum without a span) and, v2, `null_odds` (as in null_odds.json) and
`has_answer` (null_odds below the exported threshold, by default the one the run's
evaluation chose). `serve_ids` takes packed windows and returns the head's raw outputs.

With `sub_batch_size`, the windows of a request run in sub-batches by length
(`sub_batches.run_by_length`), cut to the request's longest window first. The original
head's answers are unchanged by it (its top starts and ends are taken over context
positions only). The span head's are unchanged unless a padding position would have been
among a window's `n_best_size` best starts or ends: the original (and run_squad) take
them over all `max_seq_length` positions, padding included, where a cut window has no
logits; a fine-tuned model scores padding far below its context, so this is rare
(BENCHMARKS.md gives the measured agreement), but not excluded: hence off by default.
"""

from typing import Callable, Dict, Sequence

import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.features import ENCODER_FEATURES
from albert_tf.data.graph_offsets import dense_rows
from albert_tf.data.packing import check_sequence_length
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits
from albert_tf.export.saved_model import (ExportError, SERVE_IDS, SERVING_DEFAULT,
                                          restore_for_serving)
from albert_tf.export.sub_batches import run_by_length
from albert_tf.export.text_packing import checked_utf8
from albert_tf.models.answerability_qa import P_MASK, AlbertAnswerabilityQA
from albert_tf.models.question_answering import AlbertQuestionAnswering

NO_SPAN_NULL_ODDS = 1e6  # as the task's: no valid span at all
DEFAULT_WARMUP = (("Who wrote it?", "It was written by Ann Lee in 1999."),
                  ("When?", "The second, longer warm-up context, written in 2001 and revised "
                            "in 2004, so the batch holds two lengths."))


def _text_signature() -> Dict[str, tf.TensorSpec]:
    return {name: tf.TensorSpec([None], tf.string, name=name)
            for name in ("question", "context")}


class QAServingModule(tf.Module):
    """A question-answering model, its tokenizer and the serving functions.

    Args:
        model: An `AlbertQuestionAnswering` (span head) or `AlbertAnswerabilityQA` (the
            original SQuAD v2.0 head).
        tokenizer: The model's tokenizer (SentencePiece or WordPiece).
        max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length:
            As run_squad.py's flags (use the run's values).
        version_2: SQuAD v2.0 (a span-head model then scores null odds from [CLS]).
        null_odds_threshold: v2: a question whose null odds reach it is unanswered.
        sub_batch_size: Windows per sub-batch of similar length (see the module
            docstring); 0: every window padded to `max_seq_length`, as run_squad predicts.
        length_multiple: Sub-batch widths are rounded up to a multiple of it.
    """

    def __init__(self, model, tokenizer: Tokenizer, max_seq_length: int = 384,
                 doc_stride: int = 128, max_query_length: int = 64, n_best_size: int = 20,
                 max_answer_length: int = 30, version_2: bool = False,
                 null_odds_threshold: float = 0.0, sub_batch_size: int = 0,
                 length_multiple: int = 16):
        super().__init__(name="albert_qa_serving")
        self.answerability = isinstance(model, AlbertAnswerabilityQA)
        if not self.answerability and not isinstance(model, AlbertQuestionAnswering):
            raise ExportError(f"can export an AlbertQuestionAnswering or an "
                              f"AlbertAnswerabilityQA, not {type(model).__name__}")
        check_sequence_length(max_seq_length, model.albert_config.max_position_embeddings)
        for name, value in (("doc_stride", doc_stride), ("max_query_length", max_query_length),
                            ("n_best_size", n_best_size),
                            ("max_answer_length", max_answer_length)):
            if value < 1:
                raise ExportError(f"--{name} must be at least 1, got {value}")
        if sub_batch_size < 0 or length_multiple < 1:
            raise ExportError(f"sub_batch_size={sub_batch_size} must be 0 (off) or more and "
                              f"length_multiple={length_multiple} at least 1")
        if max_query_length + 4 > max_seq_length:
            raise ExportError(f"--max_query_length={max_query_length} leaves no room for the "
                              f"context in --max_seq_length={max_seq_length}")
        check_tokenizer_fits(tokenizer, model.albert_config.vocab_size)
        self.model = model
        self.tokenizer_op = tokenizer.tf_tokenizer  # saved with the module
        self._tokenizer = tokenizer
        self.tokenizer_file = tf.saved_model.Asset(tokenizer.source_file)
        self.max_seq_length = max_seq_length
        self.doc_stride = doc_stride
        self.max_query_length = max_query_length
        self.n_best_size = min(n_best_size, max_seq_length)
        self.max_answer_length = max_answer_length
        self.version_2 = version_2 or self.answerability
        self.null_odds_threshold = float(null_odds_threshold)
        self.sub_batch_size = sub_batch_size
        self.length_multiple = length_multiple

    # -- windows ---------------------------------------------------------------------------

    def windows(self, question: tf.Tensor, context: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Doc-stride windows of each (question, context): the model's features, and per
        window its `example`, `window` number and each position's `token_starts`,
        `token_ends` (raw context characters, -1 off the context) and `max_context`."""
        special = self._tokenizer.special_ids
        seq = self.max_seq_length
        query = self._tokenizer.encode_tf(question)[:, :self.max_query_length]  # [b, (q)]
        ids, starts, ends = self._tokenizer.encode_with_offsets_tf(context)  # [b, (n)]
        query_length = query.row_lengths()  # int64 [b]
        tokens = ids.row_lengths()
        room = seq - query_length - 3  # context tokens a window holds
        stride = tf.minimum(room, self.doc_stride)
        count = tf.where(tokens <= room, tf.ones_like(tokens),
                         (tokens - room + stride - 1) // stride + 1)  # windows per example
        example = tf.repeat(tf.range(tf.size(count, out_type=tf.int64)), count)  # [w]
        window = tf.ragged.range(count).flat_values  # [w]
        window_start = window * tf.gather(stride, example)
        window_length = tf.minimum(tf.gather(tokens, example) - window_start,
                                   tf.gather(room, example))

        position = tf.range(seq, dtype=tf.int64)[None, :]  # [1, seq]
        q_length = tf.gather(query_length, example)[:, None]  # [w, 1]
        context_begin = q_length + 2
        context_end = context_begin + window_length[:, None]  # the last [SEP]
        in_query = (position >= 1) & (position <= q_length)
        in_context = (position >= context_begin) & (position < context_end)
        token_index = window_start[:, None] + position - context_begin  # [w, seq]

        def take(ragged, index, padding):  # ragged [b, (n)] -> [w, seq] at index
            rows = tf.gather(dense_rows(tf.cast(ragged, tf.int64), padding), example)
            last = tf.cast(tf.shape(rows)[1] - 1, tf.int64)
            index = tf.broadcast_to(index, [tf.shape(rows)[0], seq])
            return tf.gather(rows, tf.clip_by_value(index, 0, last), batch_dims=1)

        input_ids = tf.where(position == 0, tf.cast(special.cls, tf.int64), tf.where(
            in_query, take(query, position - 1, 0), tf.where(
                (position == q_length + 1) | (position == context_end),
                tf.cast(special.sep, tf.int64),
                tf.where(in_context, take(ids, token_index, 0), tf.zeros_like(position)))))
        used = position <= context_end
        features = {
            "input_ids": tf.cast(input_ids, tf.int32),
            "input_mask": tf.cast(used, tf.int32),
            "segment_ids": tf.cast((position >= context_begin) & used, tf.int32),
            P_MASK: tf.cast(~((position == 0) | in_context), tf.int32),
        }
        features["token_starts"] = tf.where(in_context, take(starts, token_index, -1), -1)
        features["token_ends"] = tf.where(in_context, take(ends, token_index, -1), -1)
        features["max_context"] = in_context & self._is_max_context(
            example, window, token_index, count, stride, room, tokens)
        features.update(example=example, window=window, count=count)
        return features

    @staticmethod
    def _is_max_context(example, window, token_index, count, stride, room, tokens):
        """[w, seq]: whether window w gives position's token its most context (the
        original's score min(left, right) + 0.01 * length, ties to the earlier window)."""
        most = tf.reduce_max(count)
        other = tf.range(most, dtype=tf.int64)[None, :]  # [1, K]
        starts = other * tf.gather(stride, example)[:, None]  # [w, K]
        lengths = tf.minimum(tf.gather(tokens, example)[:, None] - starts,
                             tf.gather(room, example)[:, None])
        exists = other < tf.gather(count, example)[:, None]
        token = token_index[:, :, None]  # [w, seq, 1]
        start, length = starts[:, None, :], lengths[:, None, :]
        inside = exists[:, None, :] & (token >= start) & (token < start + length)
        score = (tf.cast(tf.minimum(token - start, start + length - 1 - token), tf.float64)
                 + 0.01 * tf.cast(length, tf.float64))
        score = tf.where(inside, score, tf.constant(-float("inf"), tf.float64))
        return tf.argmax(score, axis=-1) == window[:, None]

    # -- answers ---------------------------------------------------------------------------

    def _model_outputs(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The head's outputs for [w, max_seq_length] windows, by length when asked."""
        if not self.sub_batch_size:
            return self.model(inputs, training=False)
        # Cut to the longest window first, so that a request of one sub-batch runs at its
        # own width; positions past a window's width get no start or end logit.
        # The original head takes its top starts and ends among a window's positions.
        least = (max(self.model.start_n_top, self.model.end_n_top) if self.answerability
                 else 1)
        extent = tf.reduce_max(inputs["input_mask"] * tf.range(
            1, self.max_seq_length + 1)[None, :])
        width = tf.minimum(tf.maximum(extent, least), self.max_seq_length)
        logits = () if self.answerability else ("start_logits", "end_logits")
        outputs = run_by_length(
            lambda chunk: self.model(chunk, training=False),
            {name: value[:, :width] for name, value in inputs.items()},
            self.sub_batch_size, self.length_multiple, logits, fill=-float("inf"),
            min_width=least)
        for name in logits:
            outputs[name] = tf.pad(outputs[name], [[0, 0], [0, self.max_seq_length - width]],
                                   constant_values=tf.cast(-float("inf"),
                                                           outputs[name].dtype))
        return outputs

    def _candidates(self, windows, outputs):
        """[w, candidates] float64 scores (-inf where invalid) and each candidate's start
        and end position, in the Python path's order."""
        valid_start = (windows["token_starts"] >= 0) & windows["max_context"]
        on_context = windows["token_starts"] >= 0
        if self.answerability:
            beams = tf.shape(outputs["start_top_index"])[1]
            starts = tf.repeat(outputs["start_top_index"], tf.shape(
                outputs["end_top_index"])[1] // beams, axis=1)  # [w, s*e]
            ends = outputs["end_top_index"]
            scores = (tf.cast(tf.repeat(outputs["start_top_log_probs"], tf.shape(ends)[1]
                                        // beams, axis=1), tf.float64)
                      + tf.cast(outputs["end_top_log_probs"], tf.float64))
        else:
            top = self.n_best_size
            start_logits = tf.cast(outputs["start_logits"], tf.float64)
            end_logits = tf.cast(outputs["end_logits"], tf.float64)
            best_starts = tf.math.top_k(start_logits, top).indices  # [w, n], ties: lower first
            best_ends = tf.math.top_k(end_logits, top).indices
            starts = tf.repeat(best_starts, top, axis=1)  # [w, n*n]: start-major
            ends = tf.tile(best_ends, [1, top])
            scores = (tf.gather(start_logits, starts, batch_dims=1)
                      + tf.gather(end_logits, ends, batch_dims=1))
        starts, ends = tf.cast(starts, tf.int32), tf.cast(ends, tf.int32)
        valid = (tf.gather(valid_start, starts, batch_dims=1)
                 & tf.gather(on_context, ends, batch_dims=1)
                 & (ends >= starts) & (ends - starts + 1 <= self.max_answer_length))
        return tf.where(valid, scores, -float("inf")), starts, ends

    def answers(self, question: tf.Tensor, context: tf.Tensor) -> Dict[str, tf.Tensor]:
        windows = self.windows(question, context)
        inputs = {name: windows[name] for name in ENCODER_FEATURES}
        if self.answerability:
            inputs[P_MASK] = windows[P_MASK]
        outputs = self._model_outputs(inputs)
        scores, starts, ends = self._candidates(windows, outputs)  # [w, c]
        count = windows["count"]
        per_example = tf.RaggedTensor.from_row_lengths(scores, count).to_tensor(
            -float("inf"))  # [b, K, c]
        candidates = tf.shape(scores)[1]
        flat = tf.reshape(per_example, [tf.shape(per_example)[0], -1])
        best = tf.argmax(flat, axis=1, output_type=tf.int32)  # first of equal scores
        score = tf.reduce_max(flat, axis=1)
        found = score > -float("inf")
        window = tf.cast(tf.cumsum(count, exclusive=True), tf.int32) + best // candidates
        candidate = tf.stack([window, best % candidates], axis=1)
        first, last = tf.gather_nd(starts, candidate), tf.gather_nd(ends, candidate)
        answer_start = tf.gather_nd(windows["token_starts"], tf.stack([window, first], 1))
        answer_end = tf.gather_nd(windows["token_ends"], tf.stack([window, last], 1))
        result = {"score": tf.where(found, tf.cast(score, tf.float32), tf.float32.min)}
        answered = found
        if self.version_2:
            if self.answerability:
                null = tf.cast(outputs["cls_logits"], tf.float64)
            else:  # [CLS] as both ends
                null = (tf.cast(outputs["start_logits"][:, 0], tf.float64)
                        + tf.cast(outputs["end_logits"][:, 0], tf.float64))
            null = tf.reduce_min(tf.RaggedTensor.from_row_lengths(null, count), axis=1)
            null_odds = null if self.answerability else tf.where(
                found, null - score, NO_SPAN_NULL_ODDS)
            result["null_odds"] = tf.cast(null_odds, tf.float32)
            result["has_answer"] = null_odds < self.null_odds_threshold
            answered = found & result["has_answer"]
        answer_start = tf.where(answered, answer_start, -1)
        answer_end = tf.where(answered, answer_end, -1)
        result["answer"] = tf.where(answered, tf.strings.substr(
            context, tf.cast(tf.maximum(answer_start, 0), tf.int32),
            tf.cast(answer_end - answer_start, tf.int32), unit="UTF8_CHAR"), "")
        result["answer_start"] = tf.cast(answer_start, tf.int32)
        result["answer_end"] = tf.cast(answer_end, tf.int32)
        return result

    # -- signatures ------------------------------------------------------------------------

    def serve_text(self, question, context):
        checks = [tf.debugging.assert_rank(text, 1, message=f"{name} must be a batch [batch] "
                                                            "of strings")
                  for name, text in (("question", question), ("context", context))]
        with tf.control_dependencies(checks):
            checks = [tf.debugging.assert_equal(
                tf.size(question), tf.size(context),
                message="question and context must hold the same number of texts")]
        with tf.control_dependencies(checks):
            question = checked_utf8(question, "question")
            context = checked_utf8(context, "context")
            batch = tf.shape(question)[0]
        # An empty batch goes through as one empty pair, of which nothing is returned.
        padding = tf.fill([tf.cast(tf.equal(batch, 0), tf.int32)], "")
        outputs = self.answers(tf.concat([question, padding], 0),
                               tf.concat([context, padding], 0))
        return {name: value[:batch] for name, value in outputs.items()}

    def serve_ids(self, **features):
        outputs = self.model(features, training=False)
        return {name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                for name, value in outputs.items()}

    def signatures(self) -> Dict[str, Callable]:
        """Signature name -> concrete function."""
        names = ENCODER_FEATURES + ((P_MASK,) if self.answerability else ())
        ids = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in names}
        result = {SERVING_DEFAULT: tf.function(self.serve_text).get_concrete_function(
                      **_text_signature()),
                  SERVE_IDS: tf.function(self.serve_ids).get_concrete_function(**ids)}
        captured = {id(v): v for function in result.values() for v in function.variables}
        self.captured_variables = list(captured.values())
        return result

    def warmup_inputs(self, texts: Sequence[str]) -> Dict[str, Dict[str, tf.Tensor]]:
        """Signature name -> sample inputs (`texts`: questions and contexts alternating)."""
        texts = list(texts)
        pairs = list(zip(texts[::2], texts[1::2])) or list(DEFAULT_WARMUP)
        question = tf.constant([q for q, _ in pairs])
        context = tf.constant([c for _, c in pairs])
        windows = self.windows(question, context)
        names = ENCODER_FEATURES + ((P_MASK,) if self.answerability else ())
        return {SERVING_DEFAULT: {"question": question, "context": context},
                SERVE_IDS: {name: windows[name] for name in names}}


def load_qa_model(config: AlbertConfig, checkpoint: str, answerability: bool,
                  start_n_top: int = 5, end_n_top: int = 5, flag: str = "init_checkpoint",
                  dtype: str = "float32"):
    """The question-answering model of a run_squad run (or a converted checkpoint) with
    every weight read from `checkpoint`: the original v2 answerability head, or the span
    head (SQuAD v1.1, CMRC 2018, and v2 with the null-score head)."""
    if answerability:
        model = AlbertAnswerabilityQA(config, start_n_top, end_n_top, dropout_rate=0.0,
                                      dtype=dtype)
        kind = "a SQuAD v2.0 answerability head"
    else:
        model = AlbertQuestionAnswering(config, dtype=dtype)
        kind = "a question-answering span head"
    return restore_for_serving(model, checkpoint, flag, kind)
