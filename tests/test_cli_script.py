"""The entry scripts' shared pieces: flags defined from a settings dataclass, and the one
main wrapper (usage errors, user errors in one line, no traceback)."""

import dataclasses
import os
import re
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
    from albert_tf.quiet_tensorflow import NATIVE_LOGS, NOISE as STARTUP_NOISE

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


def console_commands():
    """{command: module} of setup.py's console scripts."""
    setup = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    return dict(re.findall(r'"([\w-]+)=albert_tf\.scripts\.(\w+):run"', setup))


ABSL_SECTION = re.compile(r"^(\S+):$", re.MULTILINE)


def own_flags(helpfull: str):
    """The flags --helpfull lists under modules other than absl's own."""
    sections = ABSL_SECTION.split(helpfull)[1:]
    return {name for module, body in zip(sections[::2], sections[1::2])
            if not module.startswith("absl.")
            for name in re.findall(r"^\s+--(?:\[no\])?([\w.]+):", body, re.MULTILINE)}


@pytest.mark.parametrize("command, module", sorted(console_commands().items()))
def test_help_of_every_command_lists_its_own_flags_with_defaults(command, module):
    """Before: --help of a console command listed no flag, and of a script only the few
    defined in its own file (not the shared training flags); --helpfull mixed them with
    absl's."""
    installed = os.path.join(os.path.dirname(sys.executable), command)
    if not os.path.exists(installed):
        pytest.skip(f"{command} is not installed in this environment (pip install -e .)")
    if module == "query_saved_model":  # argparse: --help is its whole listing
        listing = subprocess.run([installed, "--help"], capture_output=True, text=True,
                                 timeout=120).stdout
        assert "--model_dir" in listing and "--signature" in listing
        return
    helpfull = subprocess.run([sys.executable, os.path.join(ROOT, f"{module}.py"),
                               "--helpfull"], capture_output=True, text=True, timeout=120)
    expected = own_flags(helpfull.stdout)
    assert expected, helpfull.stdout[-2000:]
    for program in ([installed], [sys.executable, os.path.join(ROOT, f"{module}.py")]):
        shown = subprocess.run([*program, "--help"], capture_output=True, text=True,
                               timeout=120)
        assert shown.stdout, shown.stderr[-2000:]  # (absl exits with 1 after --help)
        listed = {name for name in re.findall(r"^\s+--(?:\[no\])?([\w.]+):", shown.stdout,
                                              re.MULTILINE)}
        assert listed == expected, (program, sorted(expected ^ listed))
        assert "--logtostderr" not in shown.stdout  # absl's own flags stay in --helpfull
        assert shown.stdout.startswith(helpfull.stdout.split("\n")[0])  # the docstring


def test_help_shows_the_shared_training_flags_with_their_defaults():
    shown = subprocess.run([sys.executable, os.path.join(ROOT, "run_classifier.py"), "--help"],
                           capture_output=True, text=True, timeout=120).stdout
    # run_classifier's own default (1000 steps), not pretraining's 125000.
    assert re.search(r"--train_step: Training steps\.\n\s+\(default: '1000'\)", shown), shown
    assert re.search(r"--num_train_epochs: Train for this many passes", shown)
    assert "--[no]do_train: Fine-tune on train." in shown


def test_the_stderr_filter_drops_noise_and_loses_nothing_when_the_process_is_killed():
    """Lines written just before a kill -9 still arrive (the filter is another process
    that reads to the end); known noise does not; a partial last line is kept."""
    script = ("from albert_tf.quiet_tensorflow import filter_native_stderr\n"
              "filter_native_stderr()\n"
              "import os, signal, sys\n"
              "print('from python', file=sys.stderr, flush=True)\n"
              "os.write(2, b'E0000 util.cc:131] oneDNN supports DT_INT64 only on platforms "
              "with AVX-512. Falling back\\nF0000 a real native error\\nno newline')\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env={k: v for k, v in os.environ.items()
                                                        if k != "ALBERT_TF_NATIVE_LOGS"})
    assert result.returncode == -9
    assert result.stderr == "from python\nF0000 a real native error\nno newline"
