"""The settings every training run shares, as a frozen dataclass of plain values, and the
typed codec that writes any settings dataclass into a run folder's `run_settings.json` and
reads it back (no TensorFlow here: the entry scripts define their flags from these classes
before importing TensorFlow).

Example:

>>> from albert_tf.config import AlbertConfig
>>> settings = LoopSettings(output_dir="runs/x", albert_config=AlbertConfig.from_preset("tiny"),
...                         num_train_steps=10)
>>> record = settings_record(settings)
>>> record["num_train_steps"], "albert_config" in record
(10, False)
>>> settings_from_record(LoopSettings, record, "run_settings.json",
...                      albert_config=settings.albert_config) == settings
True
>>> settings_from_record(LoopSettings, dict(record, warmup=3), "run_settings.json",
...                      albert_config=settings.albert_config)
Traceback (most recent call last):
...
albert_tf.training.settings.SettingsError: run_settings.json: unknown setting 'warmup' for LoopSettings
"""

import collections.abc
import dataclasses
import math
import typing
from typing import Any, ClassVar, Dict, Mapping, Optional

from albert_tf.config import AlbertConfig
from albert_tf.errors import AlbertTfError

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("lamb", "adamw")


class SettingsError(AlbertTfError, ValueError):
    """A setting out of range, or a recorded one that cannot be read back; the message names
    the flag (or the key and the file)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoopSettings:
    """The flags every training script shares, as plain values (defaults: pretraining's).

    `FLAG_NAMES` maps a field to the flag a script has always called it (run_classifier's
    `train_step`), so messages name what the user typed.
    """

    FLAG_NAMES: ClassVar[Mapping[str, str]] = {}

    output_dir: str
    albert_config: AlbertConfig
    init_checkpoint: Optional[str] = None
    train_batch_size: int = 4096
    eval_batch_size: int = 64
    learning_rate: float = 0.00176
    optimizer: str = "lamb"
    poly_power: float = 1.0
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    start_warmup_step: int = 0
    save_checkpoints_steps: int = 5000
    keep_checkpoint_max: int = 5
    iterations_per_loop: int = 1000
    precision: str = "float32"
    # Evaluation and prediction compute in float32 whatever `precision` trains in, so
    # they give what a float32 export serves; False: in the training precision.
    eval_in_float32: bool = True
    jit_compile: Optional[bool] = None  # None: the device type's measured best
    seed: int = 12345
    log_steps: int = 100
    gradient_accumulation_steps: int = 1
    recompute_activations: bool = False
    peak_flops: Optional[float] = None
    do_train: bool = True
    do_eval: bool = False
    # Resuming with settings that change what is trained (see the task's `identity`) is
    # refused unless this is set; the change is then recorded as a new phase.
    new_phase: bool = False

    def flag(self, field: str) -> str:
        """`--name` of the flag that sets `field`."""
        return "--" + self.FLAG_NAMES.get(field, field)

    def validate(self) -> None:
        """Raises `SettingsError` naming the flag of the first value out of range (the
        checks that need no data, device or file; the task checks those)."""
        for field in ("train_batch_size", "eval_batch_size", "num_train_steps",
                      "save_checkpoints_steps", "iterations_per_loop", "log_steps",
                      "keep_checkpoint_max", "gradient_accumulation_steps"):
            self._at_least(field, 1)
        for field in ("num_warmup_steps", "start_warmup_step", "seed"):
            self._at_least(field, 0)
        for field in ("learning_rate", "poly_power"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise SettingsError(f"{self.flag(field)} must be a positive number, got "
                                    f"{value}")
        self._one_of("precision", PRECISIONS)
        self._one_of("optimizer", OPTIMIZERS)
        config = self.albert_config
        if self.recompute_activations and (config.hidden_dropout_prob
                                           or config.attention_probs_dropout_prob):
            raise SettingsError(
                f"{self.flag('recompute_activations')} needs hidden_dropout_prob and "
                f"attention_probs_dropout_prob at 0 (ALBERT v2's), got "
                f"{config.hidden_dropout_prob} and {config.attention_probs_dropout_prob}: a "
                "recomputed dropout mask would not be the forward pass's")
        if self.peak_flops is not None and not self.peak_flops > 0:
            raise SettingsError(f"{self.flag('peak_flops')} must be positive, got "
                                f"{self.peak_flops}")

    def _at_least(self, field: str, minimum: int) -> None:
        if getattr(self, field) < minimum:
            raise SettingsError(f"{self.flag(field)} must be at least {minimum}, got "
                                f"{getattr(self, field)}")

    def _one_of(self, field: str, choices) -> None:
        if getattr(self, field) not in choices:
            raise SettingsError(f"{self.flag(field)} must be one of {', '.join(choices)}, "
                                f"got {getattr(self, field)!r}")


# -- the run_settings.json codec ----------------------------------------------------------

def settings_record(settings) -> Dict[str, Any]:
    """Every field of a settings dataclass except `albert_config` (the run folder keeps it
    in albert_config.json) as JSON values: nested dataclasses as objects, tuples as lists."""
    return {field.name: _encode(getattr(settings, field.name))
            for field in dataclasses.fields(settings) if field.name != "albert_config"}


def _encode(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _encode(getattr(value, field.name))
                for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    return value


def settings_from_record(settings_class, values: Mapping[str, Any], source: str,
                         **fields: Any):
    """`settings_class` built from what `settings_record` wrote, every value checked
    against its field's type; `fields` supplies the ones kept elsewhere (`albert_config`).
    An unknown key, a missing required field or a value of the wrong type is a
    `SettingsError` naming the key and `source`."""
    if not isinstance(values, Mapping):
        raise SettingsError(f"{source}: expected a JSON object of settings, got "
                            f"{type(values).__name__}")
    return _decode_dataclass(settings_class, values, source, "", fields)


def _decode_dataclass(cls, values: Mapping[str, Any], source: str, prefix: str,
                      given: Mapping[str, Any]):
    hints = typing.get_type_hints(cls)
    known = {field.name: field for field in dataclasses.fields(cls) if field.init}
    for key in values:
        if key not in known:
            raise SettingsError(f"{source}: unknown setting {prefix + key!r} for "
                                f"{cls.__name__}")
    arguments = dict(given)
    for name, field in known.items():
        if name in given:
            continue
        if name not in values:
            if (field.default is dataclasses.MISSING
                    and field.default_factory is dataclasses.MISSING):
                raise SettingsError(f"{source}: setting {prefix + name!r} is missing")
            continue
        arguments[name] = _decode(hints[name], values[name], source, prefix + name)
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {error}") from None


def _decode(annotation, value, source: str, key: str):
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)

    def wrong(expected: str):
        return SettingsError(f"{source}: setting {key!r} must be {expected}, got {value!r}")

    if annotation is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in arguments:
            return None
        errors = []
        for argument in (a for a in arguments if a is not type(None)):
            try:
                return _decode(argument, value, source, key)
            except SettingsError as error:
                errors.append(error)
        raise errors[0] if len(errors) == 1 else wrong(
            " or ".join(getattr(a, "__name__", str(a)) for a in arguments))
    if annotation is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, list):
            raise wrong("a list")
        if origin is tuple and arguments and arguments[-1] is not Ellipsis:
            if len(value) != len(arguments):
                raise wrong(f"a list of {len(arguments)}")
            return tuple(_decode(a, v, source, f"{key}[{i}]")
                         for i, (a, v) in enumerate(zip(arguments, value)))
        item = arguments[0] if arguments else Any
        return tuple(_decode(item, v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise wrong("an object")
        item = arguments[1] if arguments else Any
        return {k: _decode(item, v, source, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise wrong("an object")
        return _decode_dataclass(annotation, value, source, key + ".", {})
    raise TypeError(f"no decoder for a setting of type {annotation!r}")
