"""keras-hub presets, both ways: an encoder (or a fine-tuned classifier) of this project as
a preset folder that `keras_hub.models.AlbertBackbone.from_preset(dir)` (and
`AlbertTextClassifier.from_preset(dir)`) loads, and a keras-hub ALBERT preset folder
(`config.json`, `model.weights.h5`, `assets/tokenizer/vocabulary.spm`, and a classifier's
`task.json` / `task.weights.h5`, as `save_to_preset` writes them) as a checkpoint of
this project.

keras-hub itself reads and writes the files (`pip install 'albert_tf[keras_hub]'`); this
module maps the weights. keras-hub's ALBERT fixes what this project lets vary, so these
are refused, naming the setting: an activation other than the tanh gelu, a LayerNorm
epsilon other than 1e-12, partial sharing, the project_first embedding layout, layer groups
that keras-hub's formula (`layer // (layers // groups)`) assigns otherwise than the
original's. A model without the E -> H projection gets an identity projection with a zero
bias (exactly the same numbers). keras-hub's `AlbertTokenizer` reads SentencePiece models
only, and does not lower-case or strip accents (the original's preprocessing); a WordPiece
model's preset has no tokenizer (its vocab.txt is copied beside, for `BertTokenizer`).

Example (needs keras-hub):

    write_keras_hub_preset(classifier, "presets/sst2", tokenizer)
    keras_hub.models.AlbertTextClassifier.from_preset("presets/sst2").predict(["a gem"])
"""

import json
import os
import shutil
from typing import List, Optional, Tuple

import numpy as np
from absl import logging

from albert_tf.checkpoints.shared_blocks import (BlockPositions, ConversionError,
                                                 exported_block_positions)
from albert_tf.config import AlbertConfig
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.io_utils import atomic_folder
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.encoder import AlbertEncoder

TARGET = "keras-hub's AlbertBackbone"
PRESET_FILES = ("config.json", "model.weights.h5")
TOKENIZER_ASSET = os.path.join("assets", "tokenizer", "vocabulary.spm")
# keras-hub's TransformerEncoder parts -> ours, under each transformer_block_<i>/.
_BLOCK_PARTS = (
    ("_self_attention_layer._query_dense", "attention_1/query"),
    ("_self_attention_layer._key_dense", "attention_1/key"),
    ("_self_attention_layer._value_dense", "attention_1/value"),
    ("_self_attention_layer._output_dense", "attention_1/dense"),
    ("_self_attention_layer_norm", "attention_1/LayerNorm"),
    ("_feedforward_intermediate_dense", "ffn_1/intermediate"),
    ("_feedforward_output_dense", "ffn_1/output"),
    ("_feedforward_layer_norm", "ffn_1/LayerNorm_1"),
)


def keras_hub():
    """The keras_hub module, or an error saying how to install it."""
    try:
        import keras_hub as module
    except ImportError:
        raise ConversionError("the keras_hub format needs keras-hub: pip install "
                              "'albert_tf[keras_hub]' (keras-hub>=0.32,<0.33)") from None
    return module


def keras_hub_group_of_layer(layer: int, layers: int, groups: int) -> int:
    """The group `AlbertBackbone` runs layer `layer` in (groups in turn, each
    `layers // groups` times)."""
    return layer // (layers // groups)


def check_representable(config: AlbertConfig) -> None:
    problems = []
    if config.hidden_act not in ("gelu", "gelu_new"):
        problems.append(f"hidden_act={config.hidden_act!r} (keras-hub computes the tanh gelu)")
    if config.layer_norm_eps != 1e-12:
        problems.append(f"layer_norm_eps={config.layer_norm_eps} (keras-hub's is 1e-12)")
    if config.embedding_layout != "original":
        problems.append(f"embedding_layout={config.embedding_layout!r}")
    if problems:
        raise ConversionError(f"{TARGET} cannot hold this model: {'; '.join(problems)}")


def _layer_variables(layer) -> List[Tuple[str, object]]:
    """(kernel|bias|gamma|beta, variable) of a keras Dense/EinsumDense/LayerNormalization."""
    names = ("gamma", "beta") if hasattr(layer, "gamma") else ("kernel", "bias")
    return [(name, getattr(layer, name)) for name in names]


def keras_hub_layout(encoder: AlbertEncoder) -> Tuple[BlockPositions, int]:
    """(block index -> keras-hub (group, inner), number of groups) of `encoder`, after
    refusing what keras-hub's ALBERT cannot hold."""
    check_representable(encoder.albert_config)
    return exported_block_positions(encoder, TARGET, keras_hub_group_of_layer)


def weight_pairs(encoder: AlbertEncoder, backbone,
                 positions: BlockPositions) -> List[Tuple[object, object]]:
    """(our variable, keras-hub variable) for every weight of the backbone (ours may lack
    the projection); values move by reshape only ([H, H] <-> [H, heads, head])."""
    ours = {variable.path: variable for variable in encoder.weights}
    pairs = [(ours["embeddings/word_embeddings/embeddings"],
              backbone.token_embedding.embeddings),
             (ours["embeddings/position_embeddings"],
              backbone.position_embedding.position_embeddings),
             (ours["embeddings/token_type_embeddings/embeddings"],
              backbone.segment_embedding.embeddings)]
    layers = [("embeddings/LayerNorm", backbone.embeddings_layer_norm),
              ("pooler", backbone.pooled_dense)]
    if encoder.embeddings.projection is not None:
        layers.append(("embeddings/embedding_hidden_mapping_in",
                       backbone.embeddings_projection))
    for block, (group, inner) in positions.items():
        hub_layer = backbone.transformer_layers[group][inner]
        for hub_path, our_path in _BLOCK_PARTS:
            part = hub_layer
            for attribute in hub_path.split("."):
                part = getattr(part, attribute)
            layers.append((f"transformer_block_{block}/{our_path}", part))
    for our_prefix, hub_layer in layers:
        pairs += [(ours[f"{our_prefix}/{name}"], variable)
                  for name, variable in _layer_variables(hub_layer)]
    return pairs


def copy_weights(pairs, to_keras_hub: bool) -> None:
    for ours, theirs in pairs:
        source, target = (ours, theirs) if to_keras_hub else (theirs, ours)
        value = np.asarray(source.numpy())
        if int(np.prod(value.shape)) != int(np.prod(target.shape)):
            raise ConversionError(f"{source.path} has shape {list(value.shape)}, which does "
                                  f"not fit {target.path} {list(target.shape)}")
        target.assign(value.reshape(tuple(target.shape)).astype(target.dtype))


def backbone_of(encoder: AlbertEncoder):
    """A keras-hub AlbertBackbone holding `encoder`'s weights."""
    module = keras_hub()
    config = encoder.albert_config
    positions, groups = keras_hub_layout(encoder)
    backbone = module.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        num_groups=groups, num_inner_repetitions=config.inner_group_num,
        dropout=config.hidden_dropout_prob, max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size)
    copy_weights(weight_pairs(encoder, backbone, positions), to_keras_hub=True)
    if encoder.embeddings.projection is None:
        backbone.embeddings_projection.kernel.assign(np.eye(config.hidden_size, dtype="float32"))
        backbone.embeddings_projection.bias.assign(np.zeros(config.hidden_size, "float32"))
    return backbone


def write_keras_hub_preset(model, output_dir: str, tokenizer: Optional[Tokenizer] = None,
                           sequence_length: Optional[int] = None,
                           flag: str = "export_dir") -> List[str]:
    """Writes `model` (an `AlbertEncoder`, or an `AlbertClassifier` as an
    `AlbertTextClassifier` task) as a keras-hub preset in the new (or empty) `output_dir`;
    returns the notes a user should read (what the preset's tokenizer does otherwise)."""
    module = keras_hub()
    classifier = isinstance(model, AlbertClassifier)
    if not (classifier or isinstance(model, AlbertEncoder)):
        raise ConversionError(f"keras-hub has no ALBERT task for a {type(model).__name__}: "
                              "export the encoder (--encoder_only)")
    encoder = model.encoder if classifier else model
    backbone = backbone_of(encoder)
    notes, hub_tokenizer = [], None
    if tokenizer is not None and tokenizer.file_setting == "spm_model_file":
        hub_tokenizer = module.models.AlbertTokenizer(proto=tokenizer.source_file)
        if tokenizer.lower_case:
            notes.append("keras-hub's AlbertTokenizer does not lower-case or strip accents "
                         "as this model was trained: lower-case the text before it")
    elif tokenizer is not None:
        notes.append(f"keras-hub's AlbertTokenizer reads SentencePiece models only: the "
                     f"preset has no tokenizer; {os.path.basename(tokenizer.source_file)} "
                     "is beside it for keras_hub.models.BertTokenizer")
    with atomic_folder(output_dir, flag) as folder:
        if classifier:
            preprocessor = (module.models.AlbertTextClassifierPreprocessor(
                hub_tokenizer, sequence_length=sequence_length
                or encoder.albert_config.max_position_embeddings)
                if hub_tokenizer is not None else None)
            task = module.models.AlbertTextClassifier(
                backbone, model.num_classes, preprocessor=preprocessor,
                dropout=model.dropout_rate)
            copy_weights(_head_pairs(model, task), to_keras_hub=True)
            task.save_to_preset(folder)
        else:
            backbone.save_to_preset(folder)
            if hub_tokenizer is not None:
                hub_tokenizer.save_to_preset(folder)
        if tokenizer is not None and hub_tokenizer is None:
            shutil.copyfile(tokenizer.source_file,
                            os.path.join(folder, os.path.basename(tokenizer.source_file)))
    for note in notes:
        logging.warning("%s", note)
    return notes


def _head_pairs(model: AlbertClassifier, task) -> List[Tuple[object, object]]:
    ours = {variable.path: variable for variable in model.head.weights}
    return [(ours["classifier/output/kernel"], task.output_dense.kernel),
            (ours["classifier/output/bias"], task.output_dense.bias)]


def is_keras_hub_preset(folder: str) -> bool:
    """A folder `save_to_preset` wrote (its config.json names a keras_hub class)."""
    if not all(os.path.isfile(os.path.join(folder, name)) for name in PRESET_FILES):
        return False
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
            values = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(values, dict) and str(values.get("module", "")).startswith("keras_hub")


def read_keras_hub_preset(folder: str):
    """(model, config, tokenizer file or None) of a keras-hub ALBERT preset: an
    `AlbertClassifier` when the preset holds an `AlbertTextClassifier` task, else an
    `AlbertEncoder`, with every weight copied from keras-hub's."""
    module = keras_hub()
    task = None
    try:
        with open(os.path.join(folder, "task.json"), encoding="utf-8") as handle:
            is_classifier = json.load(handle).get("class_name") == "AlbertTextClassifier"
    except FileNotFoundError:
        is_classifier = False
    except (OSError, ValueError, AttributeError) as error:
        raise ConversionError(f"{folder}/task.json: not readable ({error})") from None
    try:
        if is_classifier:
            task = module.models.AlbertTextClassifier.from_preset(folder)
            backbone = task.backbone
        else:
            backbone = module.models.AlbertBackbone.from_preset(folder)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise ConversionError(f"{folder}: not a loadable keras-hub ALBERT preset "
                              f"({type(error).__name__}: {str(error)[:300]})") from None
    embedding, hidden = backbone.embedding_dim, backbone.hidden_dim
    config = AlbertConfig(
        vocab_size=backbone.vocabulary_size, embedding_size=embedding, hidden_size=hidden,
        num_hidden_layers=backbone.num_layers, num_hidden_groups=backbone.num_groups,
        inner_group_num=backbone.num_inner_repetitions, num_attention_heads=backbone.num_heads,
        intermediate_size=backbone.intermediate_dim, hidden_act="gelu",
        hidden_dropout_prob=backbone.dropout, attention_probs_dropout_prob=backbone.dropout,
        max_position_embeddings=backbone.max_sequence_length,
        type_vocab_size=backbone.num_segments, always_project_embeddings=embedding == hidden)
    if task is not None:
        model = AlbertClassifier(config, task.num_classes, dtype="float32")
        encoder = model.encoder
        copy_weights(_head_pairs(model, task), to_keras_hub=False)
    else:
        model = encoder = AlbertEncoder(config, dtype="float32")
    copy_weights(weight_pairs(encoder, backbone, keras_hub_layout(encoder)[0]),
                 to_keras_hub=False)
    spm = os.path.join(folder, TOKENIZER_ASSET)
    return model, config, spm if os.path.isfile(spm) else None
