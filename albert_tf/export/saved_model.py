"""SavedModel export laid out for TF Serving: `<export_dir>/<model_name>/<version>/`.

Signatures (all inputs batched; outputs float32):

- `serving_default`: raw text, `text_a` (string [batch]) and, for a sentence-pair model,
  `text_b`; cleaned, tokenized (tensorflow-text SentencePiece), truncated longest-first
  and packed in the graph exactly as the Python fine-tuning path does.
- `serve_ids`: `input_ids`, `input_mask`, `segment_ids` (int32 [batch, seq]); core
  TensorFlow ops only.
- Classifier outputs: `logits` [batch, classes], `probabilities`, `label` (the label
  strings); a regressor returns `score` [batch].
- An encoder export has `encode` (ids) and `serving_default` / `encode_text_pair` (text),
  returning `pooled_output` [batch, H] and `sequence_output` [batch, seq, H].

The SentencePiece model travels as an asset (`assets/<name>.model`) besides being
embedded in the tokenizer op. `assets.extra/tf_serving_warmup_requests` holds one
PredictionLog per signature so TF Serving runs each graph once before taking traffic.

The model server binaries link the tensorflow-text ops; for a build without them
(or any runtime that cannot load them) `text_signatures=False` writes an ids-only
SavedModel whose graph uses core ops alone.
"""

import os
import shutil
from typing import Callable, Dict, List, Optional, Sequence

import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.data.features import ENCODER_FEATURES
from albert_tf.data.packing import check_sequence_length
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits
from albert_tf.errors import AlbertTfError
from albert_tf.export.sub_batches import run_by_length
from albert_tf.export.text_packing import TextPacker, checked_utf8
from albert_tf.io_utils import check_writable, owned_temp_name, remove_stale
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.encoder import AlbertEncoder

SERVING_DEFAULT = "serving_default"
SERVE_IDS = "serve_ids"
ENCODE = "encode"
ENCODE_TEXT_PAIR = "encode_text_pair"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
DEFAULT_WARMUP_TEXTS = ("ALBERT serving warm-up request.", "A second, longer warm-up text so "
                        "the batch holds two lengths.")


class ExportError(AlbertTfError, ValueError):
    """An export that cannot be written as asked (names the setting at fault)."""


def _ids_signature() -> Dict[str, tf.TensorSpec]:
    return {name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ENCODER_FEATURES}


def _text_signature(pair: bool) -> Dict[str, tf.TensorSpec]:
    names = ("text_a", "text_b") if pair else ("text_a",)
    return {name: tf.TensorSpec([None], tf.string, name=name) for name in names}


class ServingModule(tf.Module):
    """The model, its tokenizer and the serving functions, ready for `tf.saved_model.save`.

    Args:
        model: An `AlbertClassifier` (logits) or an `AlbertEncoder`.
        tokenizer: The model's tokenizer (SentencePiece or WordPiece); None with
            `text_signatures=False`.
        max_seq_length: Longest packed text input, and longest ids input accepted.
        labels: Label strings of a classifier (index order of its logits); None for a
            regressor (one output) or an encoder.
        text_pair: The text signature takes `text_a` and `text_b` (a pair task).
        text_signatures: Also export the raw-text signatures (tensorflow-text ops).
        sub_batch_size: Every signature runs a request's rows in sub-batches of this
            many, sorted by length, each padded to its own longest rounded up to
            `length_multiple` (`sub_batches.run_by_length`; ids requests padded further
            than their longest row gain most); 0: the whole request as it comes (text:
            padded to its longest).
        length_multiple: See `sub_batch_size`.
    """

    def __init__(self, model, tokenizer: Optional[Tokenizer], max_seq_length: int,
                 labels: Optional[Sequence[str]] = None, text_pair: bool = False,
                 text_signatures: bool = True, sub_batch_size: int = 0,
                 length_multiple: int = 16):
        super().__init__(name="albert_serving")
        self.is_encoder = isinstance(model, AlbertEncoder)
        if not self.is_encoder and not isinstance(model, AlbertClassifier):
            raise ExportError(f"can export an AlbertClassifier or an AlbertEncoder, not "
                              f"{type(model).__name__}")
        config = model.albert_config
        check_sequence_length(max_seq_length, config.max_position_embeddings)
        if not self.is_encoder:
            outputs = model.num_classes
            if labels is None and outputs != 1:
                raise ExportError(f"the classifier has {outputs} outputs: pass its labels")
            if labels is not None and len(labels) != outputs:
                raise ExportError(f"{len(labels)} labels {list(labels)} for a classifier with "
                                  f"{outputs} outputs")
        if text_signatures and tokenizer is None:
            raise ExportError("text signatures need the SentencePiece model (--spm_model_file) "
                              "or the WordPiece vocabulary (--vocab_file)")
        if tokenizer is not None:
            check_tokenizer_fits(tokenizer, config.vocab_size)
        self.model = model
        self.max_seq_length = max_seq_length
        self.labels = list(labels) if labels is not None else None
        self.text_pair = text_pair
        self.text_signatures = text_signatures
        if sub_batch_size < 0 or length_multiple < 1:
            raise ExportError(f"sub_batch_size={sub_batch_size} must be 0 (off) or more and "
                              f"length_multiple={length_multiple} at least 1")
        self.sub_batch_size = sub_batch_size
        self.length_multiple = length_multiple
        if text_signatures:
            self.packer = TextPacker(tokenizer, max_seq_length)
            self.tokenizer_file = tf.saved_model.Asset(tokenizer.source_file)

    def model_outputs(self, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The model's float32 outputs for packed int32 features: pooled and sequence
        outputs of an encoder, a classifier's logits."""
        if self.is_encoder:
            outputs = self.model(features, training=False)
            return {name: tf.cast(outputs[name], tf.float32)
                    for name in ("pooled_output", "sequence_output")}
        return {"logits": tf.cast(self.model(features, training=False), tf.float32)}

    def outputs(self, features: Dict[str, tf.Tensor],
                by_length: bool = False) -> Dict[str, tf.Tensor]:
        """The serving outputs for packed int32 features; `by_length`: the model runs in
        sub-batches of similar length (`sub_batches.run_by_length`) when the module was
        made with a `sub_batch_size`."""
        if by_length and self.sub_batch_size:
            outputs = run_by_length(self.model_outputs, features, self.sub_batch_size,
                                    self.length_multiple, ("sequence_output",))
        else:
            outputs = self.model_outputs(features)
        if self.is_encoder:
            return outputs
        logits = outputs["logits"]  # [batch, classes]
        if self.labels is None:
            return {"score": logits[:, 0]}
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1),
                "label": tf.gather(tf.constant(self.labels), tf.argmax(logits, axis=-1))}

    def serve_ids(self, input_ids, input_mask, segment_ids):
        # Checked in the graph, so a bad request is an INVALID_ARGUMENT naming the input
        # instead of a wrapped-around embedding lookup (id -1 read the last row).
        config = self.model.albert_config
        checks = [tf.debugging.assert_rank(tensor, 2, message=f"{name} must be [batch, seq]")
                  for name, tensor in (("input_ids", input_ids), ("input_mask", input_mask),
                                       ("segment_ids", segment_ids))]
        with tf.control_dependencies(checks):
            seq = tf.shape(input_ids)[1]
        checks = [
            tf.debugging.assert_less_equal(
                seq, self.max_seq_length,
                message=f"input_ids hold more than max_seq_length={self.max_seq_length} tokens"),
            tf.debugging.assert_equal(tf.shape(input_ids), tf.shape(input_mask),
                                      message="input_mask must have input_ids' shape"),
            tf.debugging.assert_equal(tf.shape(input_ids), tf.shape(segment_ids),
                                      message="segment_ids must have input_ids' shape"),
            _assert_in_range(input_ids, config.vocab_size,
                             f"input_ids must be in [0, vocab_size={config.vocab_size})"),
            _assert_in_range(segment_ids, config.type_vocab_size,
                             f"segment_ids must be in [0, type_vocab_size="
                             f"{config.type_vocab_size})"),
            _assert_in_range(input_mask, 2, "input_mask must hold only 0 and 1")]
        with tf.control_dependencies(checks):
            return self.outputs({"input_ids": tf.identity(input_ids),
                                 "input_mask": tf.identity(input_mask),
                                 "segment_ids": tf.identity(segment_ids)}, by_length=True)

    def serve_text(self, text_a, text_b=None):
        texts = [text_a] if text_b is None else [text_a, text_b]
        checks = [tf.debugging.assert_rank(text, 1, message="text inputs must be a batch "
                                                              "[batch] of strings")
                  for text in texts]
        with tf.control_dependencies(checks):
            text_a = checked_utf8(text_a, "text_a")
            if text_b is not None:
                text_b = checked_utf8(text_b, "text_b")
            batch = tf.shape(text_a)[0]
        # An empty batch goes through the graph as one empty text, and nothing of it is
        # returned: the packer and the model need at least one row.
        padding = tf.fill([tf.cast(tf.equal(batch, 0), tf.int32)], "")
        text_a = tf.concat([text_a, padding], 0)
        if text_b is not None:
            text_b = tf.concat([text_b, padding], 0)
        outputs = self.outputs(self.packer(text_a, text_b), by_length=True)
        return {name: value[:batch] for name, value in outputs.items()}

    def signatures(self) -> Dict[str, Callable]:
        """Signature name -> concrete function."""
        ids = tf.function(self.serve_ids).get_concrete_function(**_ids_signature())
        result = {ENCODE if self.is_encoder else SERVE_IDS: ids}
        if self.text_signatures:
            text = tf.function(self.serve_text)
            if self.is_encoder:
                result[SERVING_DEFAULT] = text.get_concrete_function(**_text_signature(False))
                result[ENCODE_TEXT_PAIR] = text.get_concrete_function(**_text_signature(True))
            else:
                result[SERVING_DEFAULT] = text.get_concrete_function(
                    **_text_signature(self.text_pair))
        # The variables the functions captured, listed so the SavedModel's saver restores
        # exactly those: through the Keras objects alone, TF Serving's (and
        # saved_model_cli's) session loader finds them uninitialized.
        captured = {id(v): v for function in result.values() for v in function.variables}
        self.captured_variables = list(captured.values())
        return result

    def warmup_inputs(self, texts: Sequence[str]) -> Dict[str, Dict[str, tf.Tensor]]:
        """Signature name -> inputs built from sample texts (pairs: each text with the next)."""
        texts = list(texts) or list(DEFAULT_WARMUP_TEXTS)
        text_a = tf.constant(texts)
        text_b = tf.constant(texts[1:] + texts[:1])
        if self.text_signatures:
            features = self.packer(text_a, text_b if self.text_pair else None)
        else:
            features = {name: tf.constant([[2, 3]] * len(texts), tf.int32)
                        for name in ENCODER_FEATURES}
            features["segment_ids"] = tf.zeros_like(features["segment_ids"])
        inputs = {ENCODE if self.is_encoder else SERVE_IDS: features}
        if self.text_signatures:
            single, pair = {"text_a": text_a}, {"text_a": text_a, "text_b": text_b}
            inputs[SERVING_DEFAULT] = pair if self.text_pair and not self.is_encoder else single
            if self.is_encoder:
                inputs[ENCODE_TEXT_PAIR] = pair
        return inputs


def _assert_in_range(values: tf.Tensor, limit: int, message: str):
    return tf.debugging.assert_equal(
        tf.reduce_all((values >= 0) & (values < limit)), True, message=message)


def _write_warmup(path: str, model_name: str, inputs: Dict[str, Dict[str, tf.Tensor]]) -> None:
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, tensors in inputs.items():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for name, value in tensors.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def existing_versions(model_dir: str) -> List[int]:
    """The integer version folders TF Serving would see under `<export_dir>/<model_name>`."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if name.isdigit() and os.path.isdir(os.path.join(model_dir, name)))


def next_version(model_dir: str) -> int:
    """One past every number in use, folders or not: a stray file named `1` is passed
    over rather than blocking the export."""
    if not os.path.isdir(model_dir):
        return 1
    return max([int(name) for name in os.listdir(model_dir) if name.isdigit()], default=0) + 1


TEMP_PREFIX = ".tmp-"  # hidden: TF Serving ignores it while the export is written


def export_saved_model(module: tf.Module, export_dir: str, model_name: str,
                       warmup_texts: Sequence[str] = ()) -> str:
    """Writes the next version of `model_name` under export_dir and returns its folder
    (`module`: a `ServingModule`, or any module with `signatures()`,
    `captured_variables` and `warmup_inputs(texts)`, as the question-answering one).

    The SavedModel is written to a hidden temporary folder (which TF Serving ignores) and
    renamed to its version number only when complete; an existing version is never
    replaced.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise ExportError(f"--model_name={model_name!r}: expected a plain folder name")
    model_dir = os.path.join(export_dir, model_name)
    check_writable(model_dir, "export_dir")
    os.makedirs(model_dir, exist_ok=True)
    for stale in remove_stale(model_dir, TEMP_PREFIX):
        logging.info("removed %s, left by a killed export", stale)
    version = next_version(model_dir)
    temp_dir = os.path.join(model_dir, owned_temp_name(TEMP_PREFIX))
    target = os.path.join(model_dir, str(version))
    try:
        logging.info("tracing the signatures and writing version %d of %s (tens of seconds "
                     "for a large model)", version, model_dir)
        signatures = module.signatures()
        tf.saved_model.save(module, temp_dir, signatures=signatures)
        _write_warmup(os.path.join(temp_dir, WARMUP_FILE), model_name,
                      module.warmup_inputs(warmup_texts))
        try:
            os.rename(temp_dir, target)
        except OSError as error:
            raise ExportError(f"{target} appeared while exporting (another export?); not "
                              f"replacing it ({error.strerror})") from None
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    logging.info("exported %s (signatures %s)", target, ", ".join(sorted(signatures)))
    return target


def load_serving_model(config: AlbertConfig, checkpoint: str, num_outputs: Optional[int],
                       flag: str = "init_checkpoint", dtype: str = "float32"):
    """An `AlbertClassifier` (num_outputs given) or `AlbertEncoder` computing in `dtype`
    (`mixed_bfloat16` serves 1.65x faster on a bfloat16-capable CPU, BENCHMARKS.md) with
    every weight read from `checkpoint`: a prefix, a checkpoint folder, or a run folder (a
    fine-tuning run's `best/` weights first). A weight the checkpoint lacks is an error."""
    if num_outputs is None:
        model = AlbertEncoder(config, dtype=dtype)
        return restore_for_serving(model, checkpoint, flag, "an encoder",
                                   [(("model", "encoder"), model), (("encoder",), model)])
    model = AlbertClassifier(config, num_outputs, dropout_rate=0.0, dtype=dtype)
    return restore_for_serving(model, checkpoint, flag,
                               f"a classifier with {num_outputs} outputs")


def restore_for_serving(model, checkpoint: str, flag: str, kind: str, candidates=None):
    """`model` with every weight read from `checkpoint` (a run folder's `best/` weights
    first), found under the `candidates` roots (default: the run's `model`); a weight
    the checkpoint lacks is an error that says what it should have held (`kind`)."""
    best = RunLayout(checkpoint).best_prefix
    if tf.io.gfile.exists(best + ".index"):
        checkpoint = best
    report = warm_start(checkpoint, model, candidates or [(("model",), model)], flag)
    if report.fresh:
        raise ExportError(f"--{flag}: {report.checkpoint} does not hold {kind}: missing "
                          f"{', '.join(report.fresh[:5])}{' ...' if len(report.fresh) > 5 else ''}")
    return model
