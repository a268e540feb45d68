"""The package's shape: its import graph and its one error base class."""

import ast
import importlib
import inspect
import os
import pkgutil

import albert_tf
from albert_tf.errors import AlbertTfError

PACKAGE_DIR = os.path.dirname(albert_tf.__file__)
# Lower layers never import higher ones; layers of equal rank never import each other.
RANKS = {"errors": 0, "io_utils": 1, "activations": 1, "quiet_tensorflow": 1, "config": 2,
         "data": 3, "layers": 3, "models": 4, "checkpoints": 5, "training": 6, "export": 6, "tasks": 7, "cli": 8,
         "analysis": 5, "experiments": 9, "demo": 10, "scripts": 11}


def module_imports():
    """{module: set of albert_tf modules it imports, at any depth of its code}."""
    graph = {}
    for root, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3]
            module = relative.replace(os.sep, ".").removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if isinstance(node, ast.Import):
                    imported |= {a.name for a in node.names if a.name.startswith("albert_tf.")}
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "albert_tf"):
                    for alias in node.names:  # `from albert_tf.x import y`: y may be a module
                        candidate = f"{node.module}.{alias.name}"
                        imported.add(candidate if os.path.exists(os.path.join(
                            os.path.dirname(PACKAGE_DIR), *candidate.split(".")) + ".py")
                            else node.module)
            if module != "albert_tf":
                graph[module] = imported - {module}
    return graph


def part(module):
    return module.split(".")[1] if module.count(".") else module


def test_no_import_cycle_and_no_upward_import():
    graph = module_imports()
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
              if part(a) != part(b) and RANKS[part(a)] <= RANKS[part(b)]]
    assert upward == []
    state = {}

    def visit(module, trail):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join(trail + [module])
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            visit(target, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert "albert_tf.training.loop" in graph and "albert_tf.checkpoints.layout" in graph


def test_every_error_class_derives_from_the_package_base():
    errors = []
    for info in pkgutil.walk_packages(albert_tf.__path__, "albert_tf."):
        if info.name.startswith("albert_tf.scripts."):  # entry scripts: they define flags
            continue
        module = importlib.import_module(info.name)
        errors += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                   if issubclass(cls, Exception) and cls.__module__ == module.__name__]
    assert len(errors) >= 15
    assert [cls.__name__ for cls in errors if not issubclass(cls, AlbertTfError)] == []


def test_the_wheel_installs_one_top_level_package_and_every_command(tmp_path):
    """Before: the entry scripts were top-level modules (`run_classifier`, `export_model`)
    that any other project's could overwrite in site-packages."""
    import re
    import shutil
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(PACKAGE_DIR)
    source = tmp_path / "source"  # a copy: the build leaves build/ behind
    shutil.copytree(PACKAGE_DIR, source / "albert_tf",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(root, name), source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path / "wheel"),
                            str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"albert_tf", "albert_tf-0.1.0.dist-info"}
    entry_points = zipfile.ZipFile(wheel).read("albert_tf-0.1.0.dist-info/entry_points.txt")
    commands = dict(re.findall(r"^([\w-]+) = (\S+)$", entry_points.decode(), re.MULTILINE))
    assert commands["albert-query"] == "albert_tf.scripts.query_saved_model:run"
    top_level_scripts = {os.path.basename(path)[:-3] for path in os.listdir(root)
                         if path.endswith(".py") and path != "setup.py"}
    assert {target.split(":")[0] for target in commands.values()} == {
        f"albert_tf.scripts.{name}" for name in top_level_scripts}
    for name in top_level_scripts:  # each in the wheel
        assert f"albert_tf/scripts/{name}.py" in names
