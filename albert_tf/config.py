"""ALBERT model configuration, compatible with the original `albert_config.json`.

Example:

>>> from albert_tf.config import AlbertConfig
>>> config = AlbertConfig.from_preset("base")
>>> config.hidden_size, config.embedding_size, config.num_hidden_layers
(768, 128, 12)
>>> AlbertConfig.from_dict(config.to_dict()) == config
True
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Mapping, Sequence, Tuple

from absl import logging

from albert_tf.activations import ACTIVATION_NAMES
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import write_atomically

SHARING_MODES = ("all", "attention", "ffn", "none")

# Keys written by the original google-research/albert configs that describe variants
# this implementation does not build (and that the released models leave at defaults).
IGNORED_ORIGINAL_KEYS = (
    "net_structure_type",
    "gap_size",
    "num_memory_blocks",
    "down_scale_factor",
    "layers_to_keep",
    # Chinese BERT-style configs (brightmart/albert_zh) carry BERT's unused pooler keys.
    "directionality",
    "pooler_fc_size",
    "pooler_num_attention_heads",
    "pooler_num_fc_layers",
    "pooler_size_per_head",
    "pooler_type",
)
EMBEDDING_LAYOUTS = ("original", "project_first")
# brightmart/albert_zh's `ln_type`: its post-LN blocks are the original's; pre-LN is another
# architecture, which this implementation does not build.
SUPPORTED_LN_TYPES = ("postln", None)


# Keys a config file must give: they set the model's size, and a default (the original's
# differ from ours) would silently build another model. The rest keep their defaults.
REQUIRED_KEYS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                 "num_attention_heads", "intermediate_size")


class ConfigError(AlbertTfError, ValueError):
    """An invalid ALBERT configuration; the message names the field and the rule."""


@dataclasses.dataclass(frozen=True)
class AlbertConfig:
    """Hyper-parameters of an ALBERT encoder.

    Field names and meanings follow the original `albert_config.json`, so a config file
    shipped with a google-research checkpoint loads unchanged.

    Args:
        vocab_size: Number of SentencePiece ids (V).
        embedding_size: Width of the factorized word embedding (E).
        hidden_size: Width of the transformer (H).
        num_hidden_layers: Number of transformer layers run (L).
        num_hidden_groups: Number of parameter groups (G); layer `l` uses group
            `int(l / L * G)`, computed in floating point exactly as the original does
            (for some L and G, such as L = G = 22, a group is then never used).
        inner_group_num: Transformer blocks inside each group, applied in turn per layer.
        num_attention_heads: Attention heads; must divide `hidden_size`.
        intermediate_size: Width of the feed-forward layer.
        hidden_act: Activation of the feed-forward layer and the MLM transform
            (`gelu` is the tanh approximation, as in the original).
        hidden_dropout_prob: Dropout on embeddings and sub-layer outputs.
        attention_probs_dropout_prob: Dropout on attention probabilities.
        max_position_embeddings: Longest sequence the position table covers.
        type_vocab_size: Number of segment ids.
        initializer_range: Stddev of the truncated-normal weight initializer.
        layer_norm_eps: LayerNorm epsilon (1e-12 in the original).
        sharing: Cross-layer sharing: `all` (ALBERT), `attention` (only the attention
            sub-layer is shared), `ffn` (only the feed-forward sub-layer is shared) or
            `none` (BERT-style, every layer owns its block).
        always_project_embeddings: Keep the E -> H projection even when E == H. The
            original has none then; Hugging Face and keras-hub models always have it, so
            their checkpoints convert with this set.
        embedding_layout: `original`: word, position and token-type lookups of width E
            are summed and normalized, then projected to H. `project_first`
            (brightmart/albert_zh's own models): the word lookup alone is projected to H,
            without a bias; position and token-type tables are H wide and the LayerNorm
            is over H; its MLM head transforms to H and projects back to E through the
            transposed projection. convert_checkpoint sets it for those checkpoints.
    """

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    sharing: str = "all"
    always_project_embeddings: bool = False
    embedding_layout: str = "original"

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raises `ConfigError` naming the first field that breaks a rule."""
        for name in (
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_hidden_layers",
            "num_hidden_groups",
            "inner_group_num",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.always_project_embeddings, bool):
            raise ConfigError("always_project_embeddings must be true or false, got "
                              f"{self.always_project_embeddings!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_hidden_layers % self.num_hidden_groups:
            raise ConfigError(
                f"num_hidden_layers ({self.num_hidden_layers}) must be divisible by "
                f"num_hidden_groups ({self.num_hidden_groups})"
            )
        if self.hidden_act not in ACTIVATION_NAMES:
            raise ConfigError(
                f"hidden_act {self.hidden_act!r} is not supported; expected one of "
                f"{', '.join(ACTIVATION_NAMES)}"
            )
        if self.embedding_layout not in EMBEDDING_LAYOUTS:
            raise ConfigError(
                f"embedding_layout {self.embedding_layout!r} is not supported; expected one "
                f"of {', '.join(EMBEDDING_LAYOUTS)}"
            )
        if self.sharing not in SHARING_MODES:
            raise ConfigError(
                f"sharing {self.sharing!r} is not supported; expected one of "
                f"{', '.join(SHARING_MODES)}"
            )
        if self.sharing == "none" and self.num_hidden_groups not in (1, self.num_hidden_layers):
            raise ConfigError(
                "sharing='none' gives every layer its own block, so num_hidden_groups "
                f"must be 1 or num_hidden_layers ({self.num_hidden_layers}), got "
                f"{self.num_hidden_groups}"
            )

    # ------------------------------------------------------------------ structure
    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def group_of_layer(self, layer_index: int) -> int:
        """The parameter group that layer `layer_index` runs: the original's formula, in
        its floating-point order (`int(15 / 22 * 22)` is 14, not 15)."""
        return int(layer_index / self.num_hidden_layers * self.num_hidden_groups)

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config",
                  require_size_keys: bool = False) -> "AlbertConfig":
        """Builds a config from a mapping in the original format.

        Keys of original variants this implementation does not build are ignored with a
        log line; any other unknown key is an error naming it. With `require_size_keys`
        (config files) every key of `REQUIRED_KEYS` must be present.
        """
        if require_size_keys:
            missing = [key for key in REQUIRED_KEYS if key not in values]
            if missing:
                raise ConfigError(f"{source}: missing required key(s) {', '.join(missing)}")
        known = {field.name for field in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key in known:
                kwargs[key] = value
            elif key in IGNORED_ORIGINAL_KEYS:
                logging.info("%s: ignoring original-format key %r=%r", source, key, value)
            elif key == "ln_type":
                if value not in SUPPORTED_LN_TYPES:
                    raise ConfigError(
                        f"{source}: ln_type={value!r} (brightmart/albert_zh's pre-LN blocks) "
                        "is not supported; only post-LN (postln), the original ALBERT's")
            else:
                raise ConfigError(
                    f"{source}: unknown key {key!r}; expected some of {', '.join(sorted(known))}"
                )
        try:
            return cls(**kwargs)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def from_json_file(cls, path: str) -> "AlbertConfig":
        """Reads an `albert_config.json` (original or written by `to_json_file`)."""
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); expected an "
                              "albert_config.json") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
            ) from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object, got {type(values).__name__}")
        return cls.from_dict(values, source=path, require_size_keys=True)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str) -> None:
        """Writes the config atomically (temp file in the same folder, then rename)."""
        write_atomically(path, self.to_json_string().encode("utf-8"))

    def differences(self, other: "AlbertConfig", ignore: Sequence[str] = ()
                    ) -> Dict[str, Tuple[Any, Any]]:
        """{field: (this config's value, other's)} for every field that differs, but the
        `ignore`d ones.

        >>> base = AlbertConfig.from_preset("base")
        >>> base.differences(base.replace(hidden_size=960, hidden_dropout_prob=0.1),
        ...                  ignore=("hidden_dropout_prob",))
        {'hidden_size': (768, 960)}
        """
        return {name: (value, getattr(other, name)) for name, value in self.to_dict().items()
                if name not in ignore and getattr(other, name) != value}

    def replace(self, **changes: Any) -> "AlbertConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "AlbertConfig":
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


# Values of the released v2 `albert_config.json` files (v2 turned dropout off).
PRESETS: Dict[str, Dict[str, Any]] = {
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                  intermediate_size=4096),
    "xlarge": dict(hidden_size=2048, num_hidden_layers=24, num_attention_heads=16,
                   intermediate_size=8192),
    "xxlarge": dict(hidden_size=4096, num_hidden_layers=12, num_attention_heads=64,
                    intermediate_size=16384),
    # Small enough for unit tests on a laptop CPU; keeps E != H so the projection exists.
    "tiny": dict(vocab_size=1000, embedding_size=16, hidden_size=32, num_hidden_layers=4,
                 num_attention_heads=4, intermediate_size=64, max_position_embeddings=128,
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1),
}
