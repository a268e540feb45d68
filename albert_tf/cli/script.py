"""What every entry script does the same way: flags defined from a settings dataclass, and
one `main` wrapper that reports user errors in one line.

Importing this module also quiets TensorFlow's C++ logging (unless the user set
TF_CPP_MIN_LOG_LEVEL or ALBERT_TF_NATIVE_LOGS=1), and `entry_point` imports TensorFlow
without its start-up lines (quiet_tensorflow.py) once the flags are parsed.

Example (a whole script):

    from albert_tf.cli.script import define_flags, entry_point, settings_from_flags
    from albert_tf.tasks.pretraining.settings import PretrainingSettings

    define_flags(PretrainingSettings, {"max_eval_steps": "Most eval batches."})

    def main(values):
        settings = PretrainingSettings(**settings_from_flags(values, ["max_eval_steps"]), ...)

    run = entry_point("run_pretraining", main)
"""

import collections.abc
import contextlib
import dataclasses
import os
import typing
from typing import Callable, Dict, Iterable, Mapping, Tuple, Type

if os.environ.get("ALBERT_TF_NATIVE_LOGS") != "1":  # see quiet_tensorflow.py
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from albert_tf.errors import AlbertTfError  # noqa: E402

_FLAG_KINDS = {bool: "bool", int: "integer", float: "float", str: "string"}


def _flag_kind(annotation) -> str:
    """The absl DEFINE_ kind of a field's type: Optional[X] is X's; a sequence is a list."""
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(arguments) == 1:
        annotation = arguments[0]
    if typing.get_origin(annotation) in (list, tuple, collections.abc.Sequence):
        return "list"
    if annotation not in _FLAG_KINDS:
        raise TypeError(f"no flag kind for a field of type {annotation!r}")
    return _FLAG_KINDS[annotation]


def define_flags(settings_class: Type, help_texts: Mapping[str, str],
                 renames: Mapping[str, str] = (), defaults: Mapping[str, object] = (),
                 flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one absl flag per field of the dataclass `settings_class` named in
    `help_texts`, typed by the field's annotation, with the field's default (or the one in
    `defaults`) and the name in `renames` where a script has always used another."""
    renames, defaults = dict(renames), dict(defaults)
    fields = {field.name: field for field in dataclasses.fields(settings_class)}
    hints = typing.get_type_hints(settings_class)
    for name, help_text in help_texts.items():
        field = fields[name]
        default = defaults.get(name, None if field.default is dataclasses.MISSING
                               else field.default)
        getattr(flags, f"DEFINE_{_flag_kind(hints[name])}")(
            renames.get(name, name), default, help_text, flag_values=flag_values)


def settings_from_flags(values: flags.FlagValues, names: Iterable[str],
                        renames: Mapping[str, str] = ()) -> Dict[str, object]:
    """{field: parsed flag value} for the named settings fields."""
    renames = dict(renames)
    return {name: values[renames.get(name, name)].value for name in names}


@contextlib.contextmanager
def exit_on_user_error(script: str, errors: Tuple[Type[BaseException], ...] = ()):
    """Bad input (flags, files, checkpoints: an `AlbertTfError`, or one of `errors`) ends
    the script with `script: message` and a non-zero status, without a traceback."""
    try:
        yield
    except (AlbertTfError, *errors) as error:
        raise SystemExit(f"{script}: {error}") from None


def entry_point(script: str, main: Callable[[flags.FlagValues], None],
                errors: Tuple[Type[BaseException], ...] = (),
                uses_tensorflow: bool = True) -> Callable[[], None]:
    """The `run()` of an entry script (and its console command): absl parses the flags,
    stray positional arguments are a usage error, TensorFlow is imported without its C++
    start-up lines (`quiet_tensorflow`; once the flags are valid, so `--help` and flag
    errors do not wait for it where the script's imports allow) and `main(flags.FLAGS)`
    runs under `exit_on_user_error(script, errors)`."""

    def absl_main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        if uses_tensorflow:
            from albert_tf.cli.quiet_tensorflow import import_quietly
            import_quietly()
        with exit_on_user_error(script, errors):
            main(flags.FLAGS)

    def run():
        app.run(absl_main)

    run.absl_main = absl_main  # what app.run calls once the flags are parsed
    return run
