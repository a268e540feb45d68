"""What every entry script does the same way: flags defined from a settings dataclass, and
one `main` wrapper that reports user errors in one line.

Importing this module also quiets TensorFlow's C++ logging (unless the user set
TF_CPP_MIN_LOG_LEVEL or ALBERT_TF_NATIVE_LOGS=1); a script's `run` sends its stderr through
the noise filter and imports TensorFlow without its start-up lines once the flags are
parsed (albert_tf/quiet_tensorflow.py).

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
import sys
import typing
from typing import Callable, Dict, Iterable, Mapping, Optional, Tuple, Type

if os.environ.get("ALBERT_TF_NATIVE_LOGS") != "1":  # see albert_tf/quiet_tensorflow.py
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from albert_tf.errors import AlbertTfError, Stopped  # noqa: E402
from albert_tf.quiet_tensorflow import filter_native_stderr, import_quietly  # noqa: E402

STOPPED_STATUS = 130

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
    the script with `script: message` and a non-zero status, without a traceback; a run
    stopped by a signal (`Stopped`: it saved a checkpoint) or interrupted by Ctrl-C ends
    with one line and status 130, the shell's for SIGINT."""
    try:
        yield
    except Stopped as stopped:
        print(f"{script}: {stopped}", file=sys.stderr)
        raise SystemExit(STOPPED_STATUS) from None
    except (AlbertTfError, *errors) as error:
        raise SystemExit(f"{script}: {error}") from None
    except KeyboardInterrupt as interrupt:
        print(f"{script}: interrupted{f' ({interrupt})' if str(interrupt) else ''}; what was "
              "written before is kept", file=sys.stderr)
        raise SystemExit(STOPPED_STATUS) from None


def _show_script_flags_in_help(doc: Optional[str]) -> None:
    """`--help` (and `--helpshort`) lists absl's "key flags" of the main module, which are
    only those defined in the file that runs: none for a console command or a thin
    wrapper, and not the shared training flags defined in training_flags.py. So every flag
    defined outside absl itself becomes a key flag of the program, and its help text
    starts with the script's docstring (the wrapper's or console command's has none)."""
    program = sys.argv[0]
    for module, defined in flags.FLAGS.flags_by_module_dict().items():
        if module.split(".")[0] != "absl":
            for flag in defined:
                flags.FLAGS.register_key_flag_for_module(program, flag)
    main_module = sys.modules.get("__main__")
    if doc and main_module is not None and getattr(main_module, "__doc__", None) != doc:
        # absl's usage() formats %s in the docstring with the program name.
        main_module.__doc__ = doc.replace("%", "%%")


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
        with exit_on_user_error(script, errors):
            if uses_tensorflow:
                import_quietly()
            main(flags.FLAGS)

    def run():
        filter_native_stderr()
        _show_script_flags_in_help(sys.modules[main.__module__].__doc__)
        app.run(absl_main)

    run.absl_main = absl_main  # what app.run calls once the flags are parsed
    return run
