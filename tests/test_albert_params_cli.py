import os
import subprocess
import sys

import pytest

from albert_tf.config import AlbertConfig
from tests.helpers import parameter_formula as formula

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "albert_params.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_table_for_a_config_file_with_sharing_override(tmp_path):
    config = AlbertConfig.from_preset("tiny", num_hidden_groups=2)
    path = tmp_path / "albert_config.json"
    config.to_json_file(str(path))
    result = run_cli(f"--albert_config_file={path}", "--sharing=attention")
    assert result.returncode == 0, result.stderr
    expected = formula(config.replace(sharing="attention"))
    lines = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[3:10]}
    for component, count in expected.items():
        assert lines[component] == f"{count:,}", component
    assert lines["total"] == f"{sum(expected.values()):,}"
    assert "sharing=attention" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--albert_config_file=/nonexistent/albert_config.json"],
     "/nonexistent/albert_config.json: config file not found"),
    (["--preset=tiny", "--embedding_size=0"], "embedding_size must be a positive integer, got 0"),
    (["--preset=huge"], "value should be one of <base|large|xlarge|xxlarge|tiny>"),
    ([], "give exactly one of --albert_config_file or --preset"),
])
def test_bad_arguments_exit_nonzero_with_a_clear_message(args, message):
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
