"""README.md stays true: every command it shows names a script, console command or make
target that exists, with flags that script defines; the library example runs.

What the commands do is exercised by the demo (tests/test_demo.py) and each script's tests;
this catches the docs drifting from the code (a renamed flag, a removed script).
"""

import functools
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
FLAG_LINE = re.compile(r"^\s+--(\[no\])?([\w.]+):", re.MULTILINE)


def fenced_blocks(language):
    text = open(README, encoding="utf-8").read()
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def shell_commands():
    """Each command of the bash blocks as tokens (continuations joined, comments dropped,
    quotes spanning lines kept together)."""
    commands = []
    for block in fenced_blocks("bash"):
        pending = ""
        for line in block.replace("\\\n", " ").splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                tokens = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                continue
            pending = ""
            if tokens:
                commands.append(tokens)
    return commands


def console_scripts():
    setup = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    return dict(re.findall(r'"([\w-]+)=albert_tf\.scripts\.(\w+):run"', setup))


@functools.lru_cache(maxsize=None)
def defined_flags(module):
    """The flags a script defines: absl's --helpfull listing, or argparse's --help."""
    def help_text(option):
        return subprocess.run([sys.executable, os.path.join(ROOT, f"{module}.py"), option],
                              capture_output=True, text=True, timeout=120, cwd=ROOT).stdout

    listing = FLAG_LINE.findall(help_text("--helpfull"))
    if listing:
        return ({name for _, name in listing}
                | {"no" + name for no, name in listing if no})
    flags = set(re.findall(r"--(\w+)", help_text("--help")))
    assert flags, f"{module}.py lists no flags with --helpfull or --help"
    return flags


def used_flags(tokens):
    return [token[2:].split("=", 1)[0] for token in tokens if token.startswith("--")]


def script_invocations():
    """(module, flags used, the command) for python scripts, console commands and make demo."""
    commands = console_scripts()
    found = []
    for tokens in shell_commands():
        if "python" in tokens and any(t.endswith(".py") for t in tokens):
            script = next(t for t in tokens if t.endswith(".py"))
            start = tokens.index(script)
            found.append((script[:-3], used_flags(tokens[start + 1:]), tokens))
        elif tokens[0] in commands:
            found.append((commands[tokens[0]], used_flags(tokens[1:]), tokens))
        elif tokens[:2] == ["make", "demo"] and len(tokens) > 2:
            arguments = shlex.split(tokens[2].split("=", 1)[1])
            found.append(("run_demo", used_flags(arguments), tokens))
    return found


def test_the_readme_shows_the_main_scripts():
    modules = {module for module, _, _ in script_invocations()}
    assert {"run_demo", "train_sentencepiece", "create_pretraining_data", "run_pretraining",
            "run_classifier", "run_squad", "run_race", "export_model",
            "convert_checkpoint", "query_saved_model"} <= modules


@pytest.mark.parametrize("module, flags, command", script_invocations(),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_commands_use_flags_their_script_defines(module, flags, command):
    assert os.path.isfile(os.path.join(ROOT, f"{module}.py")), f"no {module}.py: {command}"
    unknown = sorted(set(flags) - defined_flags(module) - {"helpfull", "flagfile"})
    assert not unknown, f"{' '.join(command)}\n{module}.py defines no {unknown}"


def test_make_targets_exist():
    makefile = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    used = {tokens[1] for tokens in shell_commands() if tokens[0] == "make"}
    assert used and used <= targets


def test_the_python_example_runs():
    blocks = [block for block in fenced_blocks("python") if "AlbertEncoder(config)" in block]
    assert blocks, "the README lost its library example"
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["outputs"]["sequence_output"].shape == (1, 5, 768)
