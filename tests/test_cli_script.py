"""The entry scripts' shared pieces: flags defined from a settings dataclass, and the one
main wrapper (usage errors, user errors in one line, no traceback)."""

import dataclasses
import os
import subprocess
import sys
from typing import Optional, Sequence

import pytest
from absl import flags

from albert_tf.cli.script import define_flags, settings_from_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Example:
    name: str
    steps: int = 3
    rate: float = 0.5
    fast: bool = True
    limit: Optional[int] = None
    files: Sequence[str] = ()


def test_flags_take_their_kind_and_default_from_the_dataclass():
    values = flags.FlagValues()
    define_flags(Example, {"steps": "s", "rate": "r", "fast": "f", "limit": "l",
                           "files": "x", "name": "n"},
                 renames={"steps": "train_step"}, defaults={"name": "demo"},
                 flag_values=values)
    values(["prog", "--train_step=7", "--nofast", "--files=a,b"])
    assert settings_from_flags(values, ["steps", "rate", "fast", "limit", "files", "name"],
                               {"steps": "train_step"}) == {
        "steps": 7, "rate": 0.5, "fast": False, "limit": None, "files": ["a", "b"],
        "name": "demo"}
    with pytest.raises(flags.IllegalFlagValueError):
        values(["prog", "--rate=fast"])


def test_a_field_type_without_a_flag_kind_is_refused():
    @dataclasses.dataclass
    class Odd:
        shape: dict = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match="no flag kind for a field of type"):
        define_flags(Odd, {"shape": "?"}, flag_values=flags.FlagValues())


@pytest.mark.parametrize("script, args, message", [
    ("convert_checkpoint.py", ["--source=/nonexistent/x", "--output_dir=/tmp/never"],
     "convert_checkpoint: "),
    ("albert_params.py", ["--preset=base", "stray"], "unexpected arguments: stray"),
    ("create_pretraining_data.py", ["--input_file=x", "--output_file=y",
                                    "--do_permutation"],
     "create_pretraining_data: --do_permutation (the original's permuted-token objective) "
     "is not supported"),
])
def test_scripts_report_user_errors_in_one_line(script, args, message):
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_tensorflow_start_up_lines_stay_out_of_the_way_unless_asked_for():
    from albert_tf.cli.quiet_tensorflow import NATIVE_LOGS, STARTUP_NOISE

    # What TensorFlow prints on this machine when imported bare.
    bare = subprocess.run([sys.executable, "-c", "import tensorflow as tf; "
                           "tf.config.list_physical_devices()"],
                          capture_output=True, text=True, timeout=300)
    noise = [line for line in bare.stderr.splitlines() if STARTUP_NOISE.search(line)]
    environment = {name: value for name, value in os.environ.items()
                   if name not in (NATIVE_LOGS, "TF_CPP_MIN_LOG_LEVEL")}
    command = [sys.executable, os.path.join(ROOT, "run_pretraining.py"),
               "--output_dir=/nonexistent/run", "--input_file=/nonexistent/*.tfrecord",
               "--preset=tiny"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=300,
                           env=environment)
    assert quiet.returncode != 0 and "run_pretraining: " in quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if STARTUP_NOISE.search(line)]
    loud = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=dict(environment, **{NATIVE_LOGS: "1"}))
    assert "run_pretraining: " in loud.stderr
    assert len([line for line in loud.stderr.splitlines()
                if STARTUP_NOISE.search(line)]) >= len(noise)
