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
