"""Export to Hugging Face transformers: a folder `from_pretrained` loads unchanged.

`config.json` (model_type albert and every field that changes the computation),
`model.safetensors` under the names and `[out, in]` layouts of `AlbertForPreTraining`,
`AlbertForSequenceClassification`, `AlbertForQuestionAnswering`,
`AlbertForMultipleChoice` or `AlbertModel` (the architecture follows the model: a
pretrainer with its MLM and SOP heads, a fine-tuned classifier or regressor with its
labels, a span question-answering model, a RACE model, or an encoder),
and the tokenizer (`spiece.model` for SentencePiece models, `vocab.txt` with
`BertTokenizer` for WordPiece ones such as the Chinese releases) with its settings.

What Hugging Face's ALBERT cannot compute is refused, naming the setting: sharing only
attention or feed-forward halves, `embedding_layout=project_first` (brightmart), layer
groups its formula assigns otherwise than the original's, and the original v2
answerability head. A model without the E -> H projection (E == H, as the original) gets an
identity projection with a zero bias, which computes the same numbers exactly.

The import direction is `conversion.convert_checkpoint`; HF -> ours -> HF gives the same
tensors bit for bit (tests/test_hugging_face_export.py).

Example:

    >>> import os, tempfile
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.models.classifier import AlbertClassifier
    >>> model = AlbertClassifier(AlbertConfig.from_preset("tiny"), num_classes=2)
    >>> folder = os.path.join(tempfile.mkdtemp(), "hf")
    >>> write_hugging_face(model, folder, labels=["negative", "positive"])
    >>> sorted(os.listdir(folder))
    ['config.json', 'model.safetensors']
"""

import json
import os
import shutil
from typing import Dict, Optional, Sequence

import numpy as np

from albert_tf.checkpoints.conversion import (CLASSIFIER_HEAD_NAMES, NameMap,
                                              SPAN_HEAD_NAMES, encoder_name_map,
                                              pretraining_head_name_map)
from albert_tf.checkpoints.shared_blocks import ConversionError, exported_block_positions
from albert_tf.config import AlbertConfig
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.io_utils import atomic_folder, current_umask
from albert_tf.models.answerability_qa import AlbertAnswerabilityQA
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.encoder import AlbertEncoder
from albert_tf.models.multiple_choice import AlbertMultipleChoice
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.models.question_answering import AlbertQuestionAnswering

TARGET = "Hugging Face's ALBERT"
# Our activation names -> Hugging Face's (its `gelu_new` is the original's tanh gelu).
HF_ACTIVATIONS = {"gelu": "gelu_new", "gelu_new": "gelu_new", "gelu_exact": "gelu",
                  "relu": "relu", "tanh": "tanh", "swish": "swish", "silu": "silu",
                  "linear": "linear"}
WEIGHTS_FILE = "model.safetensors"


def hf_group_of_layer(layer: int, layers: int, groups: int) -> int:
    """The group `AlbertTransformer.forward` runs layer `layer` in."""
    return int(layer / (layers / groups))


def architecture(model) -> str:
    if isinstance(model, AlbertPretrainer):
        return "AlbertForPreTraining"
    if isinstance(model, AlbertClassifier):
        return "AlbertForSequenceClassification"
    if isinstance(model, AlbertMultipleChoice):
        return "AlbertForMultipleChoice"
    if isinstance(model, AlbertQuestionAnswering):
        return "AlbertForQuestionAnswering"
    if isinstance(model, AlbertEncoder):
        return "AlbertModel"
    if isinstance(model, AlbertAnswerabilityQA):
        raise ConversionError(
            "v2_head=answerability: the original's SQuAD v2.0 answerability head has no "
            "Hugging Face model (AlbertForQuestionAnswering is a span head); fine-tune with "
            "--v2_head=null_score to export, or export the encoder (--encoder_only)")
    raise ConversionError(f"cannot export a {type(model).__name__} to Hugging Face")


def check_representable(config: AlbertConfig) -> None:
    if config.embedding_layout != "original":
        raise ConversionError(
            f"embedding_layout={config.embedding_layout!r} (brightmart/albert_zh's layout) "
            f"has no counterpart in {TARGET}, which projects the summed E-wide embeddings")


def hf_name_map(model) -> NameMap:
    """Every variable of `model` -> (its Hugging Face name, transposed), for the
    architecture `architecture(model)` names."""
    kind = architecture(model)
    encoder = model if kind == "AlbertModel" else model.encoder
    check_representable(encoder.albert_config)
    positions, _ = exported_block_positions(encoder, TARGET, hf_group_of_layer)
    names = encoder_name_map(encoder, "hf", positions,
                             prefix="" if kind == "AlbertModel" else "albert.")
    if kind == "AlbertForPreTraining":
        names.update(pretraining_head_name_map("hf"))
    elif kind in ("AlbertForSequenceClassification", "AlbertForMultipleChoice"):
        names.update(_hf_names(CLASSIFIER_HEAD_NAMES))
    elif kind == "AlbertForQuestionAnswering":
        # AlbertForQuestionAnswering has no pooler (add_pooling_layer=False).
        names = {path: name for path, name in names.items() if not path.startswith("pooler/")}
        names.update(_hf_names(SPAN_HEAD_NAMES))
    return names


def _hf_names(head_names) -> NameMap:
    return {ours: (spelled[1], spelled[2]) for ours, spelled in head_names.items()}


def hf_tensors(model) -> Dict[str, np.ndarray]:
    """The model's weights under Hugging Face's names and layouts (float32, contiguous)."""
    names = hf_name_map(model)
    tensors = {}
    for variable in model.weights:
        if variable.path not in names:
            if variable.path.startswith("pooler/"):
                continue  # the QA model's unused pooler
            raise ConversionError(f"{variable.path} has no Hugging Face name")
        name, transpose = names[variable.path]
        value = np.asarray(variable.numpy(), np.float32)
        tensors[name] = np.ascontiguousarray(value.T if transpose else value)
    encoder = model if isinstance(model, AlbertEncoder) else model.encoder
    if encoder.embeddings.projection is None:
        prefix = "" if isinstance(model, AlbertEncoder) else "albert."
        hidden = encoder.albert_config.hidden_size
        tensors[f"{prefix}encoder.embedding_hidden_mapping_in.weight"] = np.eye(
            hidden, dtype=np.float32)
        tensors[f"{prefix}encoder.embedding_hidden_mapping_in.bias"] = np.zeros(
            hidden, np.float32)
    return tensors


def hf_config_dict(model, tokenizer: Optional[Tokenizer] = None,
                   labels: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Hugging Face's `config.json` for `model`."""
    kind = architecture(model)
    encoder = model if kind == "AlbertModel" else model.encoder
    config = encoder.albert_config
    _, groups = exported_block_positions(encoder, TARGET, hf_group_of_layer)
    special = tokenizer.special_ids if tokenizer is not None else None
    values = {
        "architectures": [kind], "model_type": "albert",
        "vocab_size": config.vocab_size, "embedding_size": config.embedding_size,
        "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
        "num_hidden_groups": groups, "inner_group_num": config.inner_group_num,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": HF_ACTIVATIONS[config.hidden_act],
        "hidden_dropout_prob": config.hidden_dropout_prob,
        "attention_probs_dropout_prob": config.attention_probs_dropout_prob,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "initializer_range": config.initializer_range, "layer_norm_eps": config.layer_norm_eps,
        "classifier_dropout_prob": 0.1, "position_embedding_type": "absolute",
        "tie_word_embeddings": True, "torch_dtype": "float32",
        "pad_token_id": special.pad if special else 0,
        "bos_token_id": special.cls if special else 2,
        "eos_token_id": special.sep if special else 3,
    }
    if kind == "AlbertForSequenceClassification":
        names = (list(labels) if model.num_classes > 1 and labels
                 else [f"LABEL_{i}" for i in range(model.num_classes)])
        if len(names) != model.num_classes:
            raise ConversionError(f"{len(names)} labels {names} for a classifier with "
                                  f"{model.num_classes} outputs")
        values.update(
            id2label={str(i): name for i, name in enumerate(names)},
            label2id={name: i for i, name in enumerate(names)},
            problem_type=("regression" if model.num_classes == 1
                          else "single_label_classification"))
    return values


def tokenizer_files(tokenizer: Tokenizer, config: AlbertConfig) -> Dict[str, object]:
    """(file name -> source path or JSON value) of the tokenizer Hugging Face loads."""
    sentencepiece = tokenizer.file_setting == "spm_model_file"
    common = {"do_lower_case": tokenizer.lower_case,
              "model_max_length": config.max_position_embeddings}
    if sentencepiece:
        tokens = {"unk_token": "<unk>", "pad_token": "<pad>", "cls_token": "[CLS]",
                  "sep_token": "[SEP]", "mask_token": "[MASK]", "bos_token": "[CLS]",
                  "eos_token": "[SEP]"}
        settings = {"tokenizer_class": "AlbertTokenizer", "remove_space": True,
                    "keep_accents": tokenizer.keep_accents, **common, **tokens}
        return {"spiece.model": tokenizer.source_file, "tokenizer_config.json": settings,
                "special_tokens_map.json": tokens}
    tokens = {"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]",
              "sep_token": "[SEP]", "mask_token": "[MASK]"}
    settings = {"tokenizer_class": "BertTokenizer", "tokenize_chinese_chars": True,
                "strip_accents": None, **common, **tokens}
    return {"vocab.txt": tokenizer.source_file, "tokenizer_config.json": settings,
            "special_tokens_map.json": tokens}


def write_hugging_face(model, output_dir: str, tokenizer: Optional[Tokenizer] = None,
                       labels: Optional[Sequence[str]] = None,
                       flag: str = "export_dir") -> None:
    """Writes the Hugging Face folder of `model` (see the module docstring) into the new
    (or empty) `output_dir`, whole or not at all."""
    from safetensors.numpy import save_file

    tensors = hf_tensors(model)
    values = hf_config_dict(model, tokenizer, labels)
    with atomic_folder(output_dir, flag) as folder:
        weights = os.path.join(folder, WEIGHTS_FILE)
        save_file(tensors, weights, metadata={"format": "pt"})
        os.chmod(weights, 0o666 & ~current_umask())  # safetensors creates it 0600
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        if tokenizer is not None:
            config = (model if isinstance(model, AlbertEncoder) else model.encoder).albert_config
            for name, content in tokenizer_files(tokenizer, config).items():
                path = os.path.join(folder, name)
                if isinstance(content, str):
                    shutil.copyfile(content, path)
                else:
                    with open(path, "w", encoding="utf-8") as handle:
                        json.dump(content, handle, indent=2, ensure_ascii=False)
                        handle.write("\n")
