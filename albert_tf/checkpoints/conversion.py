"""Checkpoint conversion from the original google-research ALBERT (English and Chinese
releases, pretrained or fine-tuned on SQuAD), brightmart/albert_zh and Hugging Face.

Every source is read by name and mapped onto an `AlbertPretrainer` of this project
(encoder, MLM head, SOP head). Original TF1 checkpoints keep `bert/...` and `cls/...`
names (optionally under `module/`, as TF-Hub modules do) with one transformer block per
`group_<g>/inner_group_<k>`; brightmart/albert_zh's own models keep BERT's names with one
`layer_shared` block and a different embedding layout (see `brightmart_name_map`; its
`*_google` models use the original's names); Hugging Face keeps `albert.encoder.
albert_layer_groups.<g>.albert_layers.<k>...` with PyTorch's `[out, in]` dense weights,
which are transposed.
Hugging Face files are read without PyTorch: `model.safetensors` directly, and
`pytorch_model.bin` (PyTorch's zip format) by unpickling only tensor records.

The result is `<output_dir>/ckpt-1` (`tf.train.Checkpoint(model=pretrainer)`, `encoder=`
when the source has no pretraining heads, or `model=` a question-answering model when it
holds a fine-tuned SQuAD head: run_squad_v1's `cls/squad/*` or Hugging Face's
`qa_outputs` as `AlbertQuestionAnswering`, run_squad_v2's as `AlbertAnswerabilityQA`),
`albert_config.json`, `conversion_report.txt` and a copy of the source's tokenizer file
(SentencePiece model or WordPiece vocabulary, checked against the config);
`--init_checkpoint=<output_dir>` then warm-starts from it.
"""

import collections
import dataclasses
import io
import json
import os
import pickle
import re
import shutil
import struct
import zipfile
import zlib
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.keras_hub_preset import is_keras_hub_preset, read_keras_hub_preset
from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.shared_blocks import (BlockPositions, ConversionError,
                                                 block_positions)
from albert_tf.config import AlbertConfig
from albert_tf.data.tokenizers import load_tokenizer
from albert_tf.io_utils import atomic_folder, check_new_folder
from albert_tf.models.answerability_qa import AlbertAnswerabilityQA
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.multiple_choice import AlbertMultipleChoice
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.models.question_answering import AlbertQuestionAnswering

# Our variable path -> (source name, transpose). Built per config by the functions below.
NameMap = Dict[str, Tuple[str, bool]]
REPORT_FILE = "conversion_report.txt"
ORIGINAL_SKIPPED = re.compile(r"(^|/)(adam_m|adam_v|global_step|LAMB|lamb_m|lamb_v)($|/)|"
                              r"^(global_step|good_steps|current_loss_scale)$")
# Hugging Face stores the tied MLM decoder again (`predictions.decoder.*`); `hf_config`
# refuses configs where it is not tied, and `check_tied_decoder` that it equals what it
# is tied to.
HF_SKIPPED = re.compile(r"(^|\.)(position_ids|decoder\.weight|decoder\.bias)$")
PROJECTION_NAMES = {"original": "bert/encoder/embedding_hidden_mapping_in",
                    "hf": "albert.encoder.embedding_hidden_mapping_in"}
# The tokenizer files releases ship beside their weights, in this order of preference:
# Google's English (30k-clean.model) and Chinese (vocab_chinese.txt) releases, Hugging
# Face folders (spiece.model, or vocab.txt for Chinese models) and brightmart (vocab.txt).
TOKENIZER_FILES = ("30k-clean.model", "spiece.model", "vocab_chinese.txt", "vocab.txt")
# Hugging Face config keys that change the computation, with the only value this
# implementation (and the original) computes.
HF_FIXED_KEYS = {"tie_word_embeddings": True, "position_embedding_type": "absolute"}


_BLOCK_PARTS = {  # our sub-path -> (original sub-path, Hugging Face sub-path)
    "attention_1/query": ("attention_1/self/query", "attention.query"),
    "attention_1/key": ("attention_1/self/key", "attention.key"),
    "attention_1/value": ("attention_1/self/value", "attention.value"),
    "attention_1/dense": ("attention_1/output/dense", "attention.dense"),
    "attention_1/LayerNorm": ("LayerNorm", "attention.LayerNorm"),
    "ffn_1/intermediate": ("ffn_1/intermediate/dense", "ffn"),
    "ffn_1/output": ("ffn_1/intermediate/output/dense", "ffn_output"),
    "ffn_1/LayerNorm_1": ("LayerNorm_1", "full_layer_layer_norm"),
}


def dense_names(ours: str, original: str, hf: str, style: str) -> NameMap:
    if style == "original":
        return {f"{ours}/kernel": (f"{original}/kernel", False),
                f"{ours}/bias": (f"{original}/bias", False)}
    return {f"{ours}/kernel": (f"{hf}.weight", True), f"{ours}/bias": (f"{hf}.bias", False)}


def layer_norm_names(ours: str, original: str, hf: str, style: str) -> NameMap:
    if style == "original":
        return {f"{ours}/gamma": (f"{original}/gamma", False),
                f"{ours}/beta": (f"{original}/beta", False)}
    return {f"{ours}/gamma": (f"{hf}.weight", False), f"{ours}/beta": (f"{hf}.bias", False)}


def encoder_name_map(encoder, style: str, positions: BlockPositions,
                     prefix: str = "albert.") -> NameMap:
    """Every variable of the encoder -> its name in an `original` or `hf` source; `prefix`
    is Hugging Face's for the encoder of a model with heads (AlbertModel has none)."""
    original = style == "original"
    names: NameMap = {}
    for ours, (tf1, hf) in {
            "embeddings/word_embeddings/embeddings": ("bert/embeddings/word_embeddings",
                                                      "embeddings.word_embeddings.weight"),
            "embeddings/token_type_embeddings/embeddings": (
                "bert/embeddings/token_type_embeddings",
                "embeddings.token_type_embeddings.weight"),
            "embeddings/position_embeddings": ("bert/embeddings/position_embeddings",
                                               "embeddings.position_embeddings.weight"),
    }.items():
        names[ours] = (tf1 if original else prefix + hf, False)
    names.update(layer_norm_names("embeddings/LayerNorm", "bert/embeddings/LayerNorm",
                             prefix + "embeddings.LayerNorm", style))
    if encoder.embeddings.projection is not None:
        names.update(dense_names("embeddings/embedding_hidden_mapping_in",
                            PROJECTION_NAMES["original"],
                            prefix + PROJECTION_NAMES["hf"][len("albert."):], style))
    names.update(dense_names("pooler", "bert/pooler/dense", prefix + "pooler", style))
    for block, (group, inner) in positions.items():
        tf1_prefix = f"bert/encoder/transformer/group_{group}/inner_group_{inner}/"
        hf_prefix = f"{prefix}encoder.albert_layer_groups.{group}.albert_layers.{inner}."
        for ours, (tf1, hf) in _BLOCK_PARTS.items():
            part = layer_norm_names if "LayerNorm" in ours else dense_names
            names.update(part(f"transformer_block_{block}/{ours}", tf1_prefix + tf1,
                              hf_prefix + hf, style))
    return names


def pretraining_head_name_map(style: str) -> NameMap:
    """The MLM and SOP heads' variables -> their names in an `original` or `hf` source."""
    original = style == "original"
    names: NameMap = {
        "predictions/output_bias": ("cls/predictions/output_bias" if original
                                    else "predictions.bias", False),
        "seq_relationship/output/bias": ("cls/seq_relationship/output_bias" if original
                                         else "sop_classifier.classifier.bias", False),
        "seq_relationship/output/kernel": ("cls/seq_relationship/output_weights" if original
                                           else "sop_classifier.classifier.weight", True)}
    names.update(dense_names("predictions/transform", "cls/predictions/transform/dense",
                        "predictions.dense", style))
    names.update(layer_norm_names("predictions/LayerNorm", "cls/predictions/transform/LayerNorm",
                             "predictions.LayerNorm", style))
    return names


def name_map(pretrainer: AlbertPretrainer, style: str) -> NameMap:
    """Every variable of the pretrainer -> its name in an `original` or `hf` source."""
    return {**encoder_name_map(pretrainer.encoder, style, block_positions(pretrainer.encoder)),
            **pretraining_head_name_map(style)}


# brightmart/albert_zh's own models (modeling.py, not its *_google variants): BERT's names,
# one `layer_shared` block, the word lookup projected by `word_embeddings_2` (no bias)
# before H-wide position and token-type tables (`embedding_layout="project_first"`).
BRIGHTMART_MARKERS = ("bert/embeddings/word_embeddings_2", "bert/encoder/layer_shared/")
_BRIGHTMART_BLOCK_PARTS = {  # our sub-path -> brightmart's, under bert/encoder/layer_shared/
    "attention_1/query": "attention/self/query",
    "attention_1/key": "attention/self/key",
    "attention_1/value": "attention/self/value",
    "attention_1/dense": "attention/output/dense",
    "attention_1/LayerNorm": "attention/output/LayerNorm",
    "ffn_1/intermediate": "intermediate/dense",
    "ffn_1/output": "output/dense",
    "ffn_1/LayerNorm_1": "output/LayerNorm",
}


def is_brightmart(tensors: Mapping[str, np.ndarray]) -> bool:
    return any(name.startswith(BRIGHTMART_MARKERS) for name in tensors)


def brightmart_name_map(pretrainer: AlbertPretrainer) -> NameMap:
    """Every variable of a `project_first` pretrainer -> its brightmart/albert_zh name."""
    config = pretrainer.encoder.albert_config
    if (config.embedding_layout != "project_first" or config.sharing != "all"
            or config.num_hidden_groups != 1 or config.inner_group_num != 1):
        raise ConversionError("brightmart/albert_zh checkpoints share one block across all "
                              "layers (num_hidden_groups=1, inner_group_num=1, sharing=all)")
    names: NameMap = {
        "embeddings/word_embeddings/embeddings": ("bert/embeddings/word_embeddings", False),
        "embeddings/embedding_hidden_mapping_in/kernel": (
            "bert/embeddings/word_embeddings_2", False),
        "embeddings/token_type_embeddings/embeddings": (
            "bert/embeddings/token_type_embeddings", False),
        "embeddings/position_embeddings": ("bert/embeddings/position_embeddings", False),
        "predictions/output_bias": ("cls/predictions/output_bias", False),
        "seq_relationship/output/bias": ("cls/seq_relationship/output_bias", False),
        "seq_relationship/output/kernel": ("cls/seq_relationship/output_weights", True),
    }
    names.update(layer_norm_names("embeddings/LayerNorm", "bert/embeddings/LayerNorm", "", "original"))
    names.update(dense_names("pooler", "bert/pooler/dense", "", "original"))
    names.update(dense_names("predictions/transform", "cls/predictions/transform/dense", "",
                        "original"))
    names.update(layer_norm_names("predictions/LayerNorm", "cls/predictions/transform/LayerNorm", "",
                             "original"))
    for ours, theirs in _BRIGHTMART_BLOCK_PARTS.items():
        part = layer_norm_names if "LayerNorm" in ours else dense_names
        names.update(part(f"transformer_block_0/{ours}", f"bert/encoder/layer_shared/{theirs}",
                          "", "original"))
    return names


# Fine-tuned question-answering heads: our variable path -> (name in an original source,
# name in a Hugging Face one, transpose). The original run_squad_v1 / Hugging Face
# AlbertForQuestionAnswering span head; run_squad_v2's answerability head (original only).
SPAN_HEAD_NAMES = {
    "span/qa_outputs/kernel": ("cls/squad/output_weights", "qa_outputs.weight", True),
    "span/qa_outputs/bias": ("cls/squad/output_bias", "qa_outputs.bias", False),
}
ANSWERABILITY_HEAD_NAMES = {
    f"answerability/{ours}/{weight}": (f"{theirs}/{weight}", None, False)
    for ours, theirs, weights in (
        ("start_logits", "start_logits/dense", ("kernel", "bias")),
        ("end_logits_dense_0", "end_logits/dense_0", ("kernel", "bias")),
        ("end_logits_LayerNorm", "end_logits/LayerNorm", ("gamma", "beta")),
        ("end_logits_dense_1", "end_logits/dense_1", ("kernel", "bias")),
        ("answer_class_dense_0", "answer_class/dense_0", ("kernel", "bias")),
        ("answer_class_dense_1", "answer_class/dense_1", ("kernel",)))
    for weight in weights}


# The original run_classifier's head and Hugging Face AlbertForSequenceClassification's.
CLASSIFIER_HEAD_NAMES = {
    "classifier/output/kernel": ("output_weights", "classifier.weight", True),
    "classifier/output/bias": ("output_bias", "classifier.bias", False),
}


def fine_tuned_head(tensors: Mapping[str, np.ndarray], style: str,
                    num_choices: Optional[int] = None):
    """(build: encoder -> the fine-tuned model, name map of its head, what it is, whether
    the source may lack the pooler) of the fine-tuned head the source holds (question
    answering or classification), or None. Question-answering models never use the
    pooler (Hugging Face's AlbertForQuestionAnswering has none). With `num_choices`, the
    one-output classifier head is a multiple-choice head (the original run_race's and
    Hugging Face's AlbertForMultipleChoice hold the same tensors as a regressor's)."""
    column = 1 if style == "hf" else 0
    heads = (
        (lambda encoder: AlbertQuestionAnswering(encoder, dtype="float32"), SPAN_HEAD_NAMES,
         "question-answering span head", True),
        (lambda encoder: AlbertAnswerabilityQA(encoder, dtype="float32"),
         ANSWERABILITY_HEAD_NAMES, "SQuAD v2.0 answerability head", True),
        (None, CLASSIFIER_HEAD_NAMES, "classifier head", False))
    for build, head_names, what, pooler_optional in heads:
        names = {ours: (spelled[column], spelled[2]) for ours, spelled in head_names.items()
                 if spelled[column]}
        if len(names) == len(head_names) and all(name in tensors for name, _ in names.values()):
            if build is None:
                classes = int(tensors[names["classifier/output/bias"][0]].shape[0])
                build = (lambda encoder, classes=classes: AlbertClassifier(
                    encoder, classes, dropout_rate=0.0, dtype="float32"))
                what = f"{what} ({classes} outputs)"
                if num_choices:
                    if classes != 1:
                        raise ConversionError(
                            f"--num_choices={num_choices}: a multiple-choice head has one "
                            f"output per choice row, this classifier head has {classes}")
                    build = (lambda encoder: AlbertMultipleChoice(
                        encoder, num_choices, dropout_rate=0.0, dtype="float32"))
                    what = f"multiple-choice head ({num_choices} choices)"
            elif num_choices:
                raise ConversionError(f"--num_choices={num_choices}: the source holds a "
                                      f"{what}, not a multiple-choice head")
            return build, names, what, pooler_optional
    if num_choices:
        raise ConversionError(f"--num_choices={num_choices}: the source holds no fine-tuned "
                              "head (output_weights / classifier.weight)")
    return None


# -- readers --------------------------------------------------------------------------------
# Both Hugging Face formats come from strangers' uploads, so neither reader trusts a size,
# offset or name inside the file: the safetensors header is validated by the `safetensors`
# package itself, and every torch storage view is bounds-checked before it is read.

_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
                       "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
                       "U8": np.uint8, "BOOL": np.bool_}
# A member of a pytorch_model.bin is refused beyond this size (ALBERT-xxlarge is ~0.9 GB)
# or when it inflates more than this ratio: a small crafted file cannot ask for 100 GB.
MAX_MEMBER_BYTES = 1 << 34
MAX_INFLATION = 100


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """Every tensor of a `.safetensors` file. The `safetensors` package validates the header
    (its length, every offset inside the file, no overlaps, sizes that match the shapes)
    and reads the tensors; bfloat16 ones, which NumPy lacks, are widened to float32 from
    the same validated byte ranges."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="np") as handle:
            names = list(handle.keys())
            dtypes = {name: handle.get_slice(name).get_dtype() for name in names}
            for name, dtype in dtypes.items():
                if dtype != "BF16" and dtype not in _SAFETENSORS_DTYPES:
                    raise ConversionError(f"{path}: {name} has unsupported dtype {dtype}")
            tensors = {name: np.array(handle.get_tensor(name)) for name in names
                       if dtypes[name] != "BF16"}
    except (SafetensorError, OSError) as error:
        raise ConversionError(f"{path}: not a readable safetensors file ({error})") from None
    bfloat16 = [name for name in names if dtypes[name] == "BF16"]
    if bfloat16:
        data = np.memmap(path, dtype=np.uint8, mode="r")
        (header_size,) = struct.unpack("<Q", data[:8].tobytes())
        header = json.loads(data[8:8 + header_size].tobytes())
        body = data[8 + header_size:]
        for name in bfloat16:
            begin, end = header[name]["data_offsets"]
            tensors[name] = _bfloat16_to_float32(body[begin:end].view(np.uint16)).reshape(
                header[name]["shape"])
    return tensors


_TORCH_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                   "HalfStorage": np.float16, "BFloat16Storage": "bfloat16",
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


def _non_negative_ints(values, what: str, path: str) -> Tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ConversionError(f"{path}: a tensor's {what} {values!r} is not a list of "
                              "non-negative integers (damaged or crafted file)")
    return tuple(values)


def _tensor_view(storage: np.ndarray, offset, size, stride, path: str) -> np.ndarray:
    """A copy of the strided view `torch._utils._rebuild_tensor_v2` describes, after
    checking that every element it touches lies inside the storage."""
    if not isinstance(storage, np.ndarray):
        raise ConversionError(f"{path}: a tensor refers to no storage (damaged or crafted file)")
    (offset,) = _non_negative_ints((offset,), "storage offset", path)
    size = _non_negative_ints(size, "size", path)
    stride = _non_negative_ints(stride, "stride", path)
    if len(size) != len(stride):
        raise ConversionError(f"{path}: a tensor has size {size} but stride {stride}")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise ConversionError(
                f"{path}: a tensor of size {list(size)} (offset {offset}, stride "
                f"{list(stride)}) reaches element {last} of a storage of {storage.size}")
    elif offset > storage.size:
        raise ConversionError(f"{path}: storage offset {offset} beyond its {storage.size} "
                              "elements")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * storage.itemsize for s in stride),
        writeable=False)
    return np.array(view)


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a PyTorch state dict, allowing only tensor-rebuilding globals and storages
    that are members of the same archive."""

    def __init__(self, handle, archive: zipfile.ZipFile, root: str, path: str):
        super().__init__(handle)
        self.archive, self.root, self.path = archive, root, path

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in _TORCH_STORAGES:
            return name
        raise ConversionError(f"{self.path}: unexpected object {module}.{name} in the pickle "
                              "(only tensors are read; convert the file to safetensors)")

    def _rebuild_tensor(self, storage, offset, size, stride, *unused):
        return _tensor_view(storage, offset, size, stride, self.path)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and pid[1] in _TORCH_STORAGES and isinstance(pid[2], str)
                and re.fullmatch(r"[0-9A-Za-z_]+", pid[2])):
            raise ConversionError(f"{self.path}: unexpected storage reference {pid!r:.200} "
                                  "in the pickle (damaged or crafted file)")
        dtype = _TORCH_STORAGES[pid[1]]
        raw = _read_member(self.archive, f"{self.root}/data/{pid[2]}", self.path)
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        if len(raw) % itemsize:
            raise ConversionError(f"{self.path}: storage {pid[2]} holds {len(raw)} bytes, not "
                                  f"a whole number of {pid[1]} elements")
        if dtype == "bfloat16":
            return _bfloat16_to_float32(np.frombuffer(raw, np.uint16))
        return np.frombuffer(raw, dtype)


def _read_member(archive: zipfile.ZipFile, name: str, path: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ConversionError(f"{path}: the pickle refers to {name}, which the archive "
                              "lacks") from None
    if info.file_size > MAX_MEMBER_BYTES or (
            info.compress_type != zipfile.ZIP_STORED
            and info.file_size > MAX_INFLATION * max(info.compress_size, 1)):
        raise ConversionError(f"{path}: member {name} claims {info.file_size} bytes "
                              f"({info.compress_size} stored); refused")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise ConversionError(f"{path}: member {name} is damaged ({error})") from None


def read_torch_zip(path: str) -> Dict[str, np.ndarray]:
    """A `pytorch_model.bin` state dict (PyTorch >= 1.6 zip format) without PyTorch."""
    if not zipfile.is_zipfile(path):
        raise ConversionError(f"{path}: not PyTorch's zip format (an older torch.save file?); "
                              "re-save it with a current PyTorch or use model.safetensors")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            if not pickles:
                raise ConversionError(f"{path}: no data.pkl inside")
            root = pickles[0][:-len("/data.pkl")]
            pickled = _read_member(archive, pickles[0], path)
            state = _TorchUnpickler(io.BytesIO(pickled), archive, root, path).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError) as error:
        if isinstance(error, ConversionError):
            raise
        raise ConversionError(f"{path}: not a readable PyTorch state dict "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or not all(
            isinstance(name, str) and isinstance(value, np.ndarray)
            for name, value in state.items()):
        raise ConversionError(f"{path}: the pickle is not a state dict of named tensors")
    return dict(state)


def read_original(path: str) -> Dict[str, np.ndarray]:
    """Every variable of a TF1 checkpoint, with a TF-Hub `module/` prefix removed."""
    reader = tf.train.load_checkpoint(path)
    return {name[len("module/"):] if name.startswith("module/") else name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()}


def hf_config(values: Mapping[str, object], source: str) -> AlbertConfig:
    """A Hugging Face `config.json` as an `AlbertConfig` (HF's `gelu_new` is the original
    tanh `gelu`; HF's `gelu` is the exact one)."""
    if not isinstance(values, Mapping):
        raise ConversionError(f"{source}: expected a JSON object, got {type(values).__name__}")
    for key, expected in HF_FIXED_KEYS.items():
        if key in values and values[key] != expected:
            raise ConversionError(
                f"{source}: {key}={values[key]!r} is not supported (only {expected!r}, as "
                "in the original ALBERT); converting would compute something else")
    fields = {field.name for field in dataclasses.fields(AlbertConfig)}
    kept = {key: value for key, value in values.items() if key in fields}
    activations = {"gelu_new": "gelu", "gelu": "gelu_exact"}
    if "hidden_act" in kept:
        kept["hidden_act"] = activations.get(kept["hidden_act"], kept["hidden_act"])
    return AlbertConfig.from_dict(kept, source=source, require_size_keys=True)


# -- conversion -----------------------------------------------------------------------------

@dataclasses.dataclass
class ConversionReport:
    source: str
    mapped: List[Tuple[str, str]]
    skipped: List[str]
    missing: List[str]
    unused: List[str]
    wrote: str = ""
    tokenizer: str = ""

    def text(self) -> str:
        lines = [f"converted {self.source}: {len(self.mapped)} mapped, {len(self.skipped)} "
                 f"skipped, {len(self.missing)} missing, {len(self.unused)} unused"]
        if self.wrote:
            lines.append(f"wrote {self.wrote}")
        if self.tokenizer:
            lines.append(f"tokenizer {self.tokenizer}")
        lines += [f"mapped  {ours} <- {source}" for ours, source in self.mapped]
        lines += [f"skipped {name}" for name in self.skipped]
        lines += [f"missing {name}" for name in self.missing]
        lines += [f"unused  {name}" for name in self.unused]
        return "\n".join(lines) + "\n"


def assign_weights(pretrainer: AlbertPretrainer, tensors: Mapping[str, np.ndarray],
                   names: NameMap, skipped: Callable[[str], bool], source: str,
                   optional: Tuple[str, ...] = ()) -> ConversionReport:
    """Assigns every mapped tensor (transposing PyTorch dense weights); returns the report.
    Encoder weights the source lacks are an error (except those under the `optional`
    path prefixes); missing heads are reported."""
    by_path = {variable.path: variable for variable in pretrainer.weights}
    mapped, missing, used = [], [], set()
    for path, (name, transpose) in names.items():
        if name not in tensors:
            missing.append(path)
            continue
        value = tensors[name].T if transpose else tensors[name]
        variable = by_path[path]
        if tuple(value.shape) != tuple(variable.shape):
            stored = list(tensors[name].shape)
            as_read = f" (transposed: {list(value.shape)})" if transpose else ""
            raise ConversionError(f"{source}: {name} has shape {stored}{as_read} but {path} "
                                  f"needs {list(variable.shape)}")
        variable.assign(value.astype(variable.dtype))
        mapped.append((path, name))
        used.add(name)
    encoder_paths = {variable.path for variable in pretrainer.encoder.weights}
    lost = [f"{path} ({names[path][0]})" for path in missing
            if path in encoder_paths and not path.startswith(optional)]
    if lost:
        raise ConversionError(f"{source}: the encoder weights {', '.join(lost[:6])}"
                              f"{' ...' if len(lost) > 6 else ''} are missing (is the config "
                              "right for this checkpoint: num_hidden_groups, inner_group_num?)")
    rest = sorted(set(tensors) - used)
    return ConversionReport(source=source, mapped=mapped,
                            skipped=[name for name in rest if skipped(name)], missing=missing,
                            unused=[name for name in rest if not skipped(name)])


def check_tied_decoder(tensors: Mapping[str, np.ndarray], source: str) -> None:
    """Refuses a Hugging Face file whose stored MLM decoder differs from the word embeddings
    and output bias it is tied to (converting would silently drop it)."""
    for decoder, tied in (("predictions.decoder.weight", "albert.embeddings.word_embeddings.weight"),
                          ("predictions.decoder.bias", "predictions.bias")):
        if decoder in tensors and tied in tensors and not (
                tensors[decoder].shape == tensors[tied].shape
                and np.array_equal(tensors[decoder], tensors[tied])):
            raise ConversionError(
                f"{source}: {decoder} differs from {tied}: the MLM decoder is not tied to the "
                "word embeddings, which ALBERT (and this implementation) requires")


def _strip_hf_prefix(tensors: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """AlbertModel files name the encoder without `albert.`; AlbertForPreTraining with it."""
    if any(name.startswith("albert.") for name in tensors):
        return tensors
    return {(f"albert.{name}" if name.split(".")[0] in ("embeddings", "encoder", "pooler")
             else name): value for name, value in tensors.items()}


def load_source(source: str, config_file: Optional[str]) -> Tuple[Dict, AlbertConfig, str]:
    """(tensors, config, style) of an original checkpoint or a Hugging Face folder/file."""
    hf_file = None
    if os.path.isdir(source):
        for name in ("model.safetensors", "pytorch_model.bin"):
            if os.path.isfile(os.path.join(source, name)):
                hf_file = os.path.join(source, name)
                break
    elif source.endswith((".safetensors", ".bin")) and os.path.isfile(source):
        hf_file = source
    if hf_file:
        folder = os.path.dirname(hf_file)
        config_file = config_file or os.path.join(folder, "config.json")
        if not os.path.isfile(config_file):
            raise ConversionError(f"{config_file}: Hugging Face config.json not found "
                                  "(pass --config_file)")
        try:
            with open(config_file, encoding="utf-8") as handle:
                values = json.load(handle)
        except (ValueError, OSError) as error:  # JSON and UTF-8 errors are ValueErrors
            raise ConversionError(f"{config_file}: not a readable Hugging Face config.json "
                                  f"({error})") from None
        config = hf_config(values, config_file)
        reader = read_safetensors if hf_file.endswith(".safetensors") else read_torch_zip
        return _strip_hf_prefix(reader(hf_file)), config, "hf"
    try:
        prefix = tf.train.latest_checkpoint(source) if os.path.isdir(source) else source
        tensors = read_original(prefix or source)
    except (tf.errors.DataLossError, IndexError) as error:  # IndexError: short .data file
        reason = str(getattr(error, "message", error)).splitlines()[0][:300]
        raise ConversionError(f"{source}: the checkpoint is damaged or truncated "
                              f"({reason})") from None
    except (tf.errors.OpError, ValueError):
        raise ConversionError(f"{source}: neither a TF checkpoint nor a Hugging Face "
                              "model (model.safetensors / pytorch_model.bin)") from None
    if not config_file:
        folder = source if os.path.isdir(source) else os.path.dirname(source)
        config_file = RunLayout(folder).config_file  # the original's name too
    if not os.path.isfile(config_file):
        raise ConversionError(f"{config_file}: albert_config.json not found (pass --config_file)")
    return tensors, AlbertConfig.from_json_file(config_file), "original"


def find_tokenizer_file(source: str) -> Optional[str]:
    """The tokenizer file shipped beside a checkpoint or Hugging Face file (or in its
    folder), if any (`TOKENIZER_FILES`)."""
    folder = source if os.path.isdir(source) else os.path.dirname(source)
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def check_tokenizer_file(path: str, config: AlbertConfig) -> Tuple[str, str]:
    """(flag, description) of a SentencePiece model (`.model`) or WordPiece vocabulary,
    after checking that it loads and that its size is the config's vocab_size."""
    is_sentencepiece = path.endswith((".model", ".spm"))  # .spm: keras-hub presets
    tokenizer = (load_tokenizer(spm_model_file=path) if is_sentencepiece
                 else load_tokenizer(vocab_file=path))
    if tokenizer.vocab_size != config.vocab_size:
        raise ConversionError(f"{path}: {tokenizer.vocab_size} entries, but the config's "
                              f"vocab_size is {config.vocab_size}; is it this model's "
                              "tokenizer?")
    return tokenizer.file_setting, f"{tokenizer.description}, {tokenizer.vocab_size} entries"


def convert_checkpoint(source: str, output_dir: str, config_file: Optional[str] = None,
                       tokenizer_file: Optional[str] = None,
                       num_choices: Optional[int] = None) -> ConversionReport:
    """Converts `source` into a checkpoint of this project in a new `output_dir`.

    The tokenizer file (`tokenizer_file`, else the one found beside the source, see
    `TOKENIZER_FILES`) is checked against the config and copied in, so the folder holds
    all a fine-tuning run needs; the report names the flag that passes it on.
    `num_choices`: the source is a multiple-choice model (`fine_tuned_head`).
    """
    check_new_folder(output_dir, "output_dir")
    if os.path.isdir(source) and is_keras_hub_preset(source):
        return convert_keras_hub_preset(source, output_dir, tokenizer_file)
    tensors, config, style = load_source(source, config_file)
    tokenizer_file = tokenizer_file or find_tokenizer_file(source)
    if tokenizer_file:
        tokenizer_flag, tokenizer_description = check_tokenizer_file(tokenizer_file, config)
    if style == "hf":
        check_tied_decoder(tensors, source)
    if style == "original" and is_brightmart(tensors):
        style = "brightmart"
        config = dataclasses.replace(config, embedding_layout="project_first")
    if config.embedding_size == config.hidden_size and style != "brightmart":
        # E == H: the original has no projection, Hugging Face always has one; keep
        # whatever the source has.
        has_projection = PROJECTION_NAMES[style] + (
            "/kernel" if style == "original" else ".weight") in tensors
        config = dataclasses.replace(config, always_project_embeddings=has_projection)
    pretrainer = AlbertPretrainer(config, dtype="float32")
    skipped = HF_SKIPPED.search if style == "hf" else ORIGINAL_SKIPPED.search
    names = (brightmart_name_map(pretrainer) if style == "brightmart"
             else name_map(pretrainer, style))
    head = fine_tuned_head(tensors, style, num_choices)
    optional = ("pooler/",) if head and head[3] else ()
    report = assign_weights(pretrainer, tensors, names, skipped, source, optional)
    heads_complete = not report.missing
    checkpoint = (tf.train.Checkpoint(model=pretrainer) if heads_complete
                  else tf.train.Checkpoint(encoder=pretrainer.encoder))
    what = "" if heads_complete else " (encoder only: the source has no pretraining heads)"
    if head:
        build, head_names, description, _ = head
        model = build(pretrainer.encoder)
        head_report = assign_weights(model, tensors, head_names, skipped, source)
        report.mapped += head_report.mapped
        used = {name for _, name in head_report.mapped}
        report.unused = [name for name in report.unused if name not in used]
        report.missing = [path for path in report.missing if not path.startswith(
            ("predictions/", "seq_relationship/"))]
        checkpoint = tf.train.Checkpoint(model=model)
        what = f" (a fine-tuned {type(model).__name__}: encoder and {description})"
    tokenizer = (tokenizer_file, tokenizer_flag, tokenizer_description) if tokenizer_file else None
    return write_converted(output_dir, checkpoint, config, report, what, tokenizer)


def write_converted(output_dir: str, checkpoint: tf.train.Checkpoint, config: AlbertConfig,
                    report: ConversionReport, what: str,
                    tokenizer: Optional[Tuple[str, str, str]]) -> ConversionReport:
    """Writes a conversion's folder whole or not at all: `ckpt-1`, albert_config.json,
    the tokenizer (file, flag, description) copied in, and the report."""
    with atomic_folder(output_dir) as temp_dir:
        prefix = tf.train.CheckpointManager(checkpoint, temp_dir, max_to_keep=1).save()
        config.to_json_file(RunLayout(temp_dir).config_file)
        report.wrote = os.path.join(output_dir, os.path.basename(prefix)) + what
        if tokenizer:
            tokenizer_file, flag, description = tokenizer
            name = os.path.basename(tokenizer_file)
            if tokenizer_file.endswith(".spm"):
                name = "spiece.model"  # keras-hub's name for the same SentencePiece model
            shutil.copyfile(tokenizer_file, os.path.join(temp_dir, name))
            report.tokenizer = (f"{name} ({description}): pass --{flag}="
                                f"{os.path.join(output_dir, name)}")
        else:
            report.tokenizer = ("none beside the source: pass --spm_model_file or "
                                "--vocab_file yourself")
        with open(os.path.join(temp_dir, REPORT_FILE), "w", encoding="utf-8") as handle:
            handle.write(report.text())
    logging.info("%s", report.text().splitlines()[0])
    return report


def convert_keras_hub_preset(source: str, output_dir: str,
                             tokenizer_file: Optional[str] = None) -> ConversionReport:
    """A keras-hub ALBERT preset folder (an AlbertBackbone, or an AlbertTextClassifier
    task) as a checkpoint of this project (see `keras_hub_preset.read_keras_hub_preset`)."""
    model, config, preset_tokenizer = read_keras_hub_preset(source)
    tokenizer_file = tokenizer_file or preset_tokenizer
    tokenizer = None
    if tokenizer_file:
        tokenizer = (tokenizer_file, *check_tokenizer_file(tokenizer_file, config))
    report = ConversionReport(source=source, mapped=[(variable.path, "keras-hub")
                                                     for variable in model.weights],
                              skipped=[], missing=[], unused=[])
    if isinstance(model, AlbertClassifier):
        checkpoint = tf.train.Checkpoint(model=model)
        what = (f" (a fine-tuned AlbertClassifier: encoder and classifier head, "
                f"{model.num_classes} outputs)")
    else:
        checkpoint = tf.train.Checkpoint(encoder=model)
        what = " (encoder only: keras-hub's AlbertBackbone has no pretraining heads)"
    return write_converted(output_dir, checkpoint, config, report, what, tokenizer)
