"""Multi-stage runs that survive re-runs and crashes: the demo and the ablation grid.

Every stage that a user would run by hand runs the project's own entry script in a child
process, with the exact command printed and logged to `<run_dir>/logs/<stage>.log`.
`<run_dir>/stages.json` records each finished stage with a key over its settings and the
keys of the stages it depends on: a re-run reuses a stage whose key is unchanged and whose
outputs exist, re-runs one whose settings (or a stage it depends on) changed after
deleting its outputs, and lets an interrupted stage resume (training continues from its
last checkpoint). A stage depends on the stage before it unless it names its
dependencies, so independent stages (the cells of a grid) are reused independently.
`force=True` starts every stage afresh.
"""

import ctypes
import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

from absl import logging

from albert_tf.errors import AlbertTfError, Stopped
from albert_tf.io_utils import write_atomically

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Lines of TensorFlow's start-up chatter kept in the stage logs but not echoed.
_QUIET_PREFIXES = ("WARNING: All log messages before absl::InitializeLog", "I0000 ",
                   "To enable the following instructions", "E0000 ", "W0000 ")


class StageError(AlbertTfError, RuntimeError):
    """A stage failed; the message names the stage and its log file."""


@dataclasses.dataclass
class StageRecord:
    key: str
    seconds: float = 0.0
    finished: bool = False
    reused: bool = False
    commands: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a staged run.

    Args:
        name: Unique; also the name of its log file (`/` allowed: a sub-folder).
        description: Shown when it starts.
        outputs: Paths relative to the run folder, deleted when it must start afresh.
        params: What its result depends on besides its dependencies.
        action: Does the work.
        reusable: False: runs every time (a report of this run).
        after: Names of the stages it depends on; None: the stage before it.
    """

    name: str
    description: str
    outputs: Sequence[str]
    params: Dict[str, object]
    action: Callable[[], None]
    reusable: bool = True
    after: Optional[Sequence[str]] = None


class StagedRun:
    """Runs `stages()` in order; `run()` returns the stage records. Subclasses define
    `stages()`; `error_class` is what a failed script raises."""

    error_class = StageError

    def __init__(self, run_dir: str, force: bool = False, python: str = sys.executable):
        self.run_dir = os.path.abspath(run_dir)
        self.force = force
        self.python = python
        self.records_path = self.path("stages.json")
        self.records: Dict[str, StageRecord] = self._load_records()
        self.current_name = "run"

    def stages(self) -> List[Stage]:
        raise NotImplementedError

    def path(self, *parts: str) -> str:
        return os.path.join(self.run_dir, *parts)

    def script_file(self, module: str) -> str:
        """The file of the entry script albert_tf.scripts.<module>."""
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "scripts", f"{module}.py")

    def say(self, message: str) -> None:
        logging.info("[%s] %s", self.current_name, message)

    def script(self, module: str, **flag_values) -> None:
        """Runs an entry script (albert_tf/scripts/<module>.py, by its file, so that
        query_saved_model imports no albert_tf; shown as `python <module>.py ...`) in a
        child process, echoing its output and appending it to the stage's log. The child
        never outlives this process; a stop signal to this process is passed to it and,
        once it has ended, raises `Stopped`."""
        arguments = [_flag(name, value) for name, value in flag_values.items()]
        shown = _shell_line([f"{module}.py"] + arguments, self.run_dir)
        self.records[self.current_name].commands.append(shown)
        self._save_records()  # a stage that fails or is killed still shows its command
        log_path = self.path("logs", f"{self.current_name}.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        logging.info("[%s] $ %s", self.current_name, shown)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        command = [self.python, self.script_file(module)] + arguments
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("$ " + " ".join(command) + "\n")
            # Its own session: Ctrl-C at the terminal reaches this process alone, which
            # passes one signal on (`_ForwardedStops`); the child dies with this process
            # even on kill -9 (`_die_with_parent`).
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, env=env, start_new_session=True,
                                       preexec_fn=_die_with_parent(os.getpid()))
            with _ForwardedStops(process) as stops:
                for line in process.stdout:
                    log.write(line)
                    log.flush()
                    if not line.startswith(_QUIET_PREFIXES):
                        sys.stderr.write(f"[{self.current_name}] {line}")
                status = process.wait()
        if stops.received:
            raise Stopped(f"stopped by {stops.received} in stage {self.current_name} "
                          f"(`{module}` ended with status {status}; its output is in "
                          f"{log_path}); rerun the same command to resume: finished stages "
                          "are reused, an interrupted training goes on from its checkpoint")
        if status != 0:
            raise self.error_class(f"stage {self.current_name}: `{module}` exited with status "
                                   f"{status}; its output is in {log_path}")

    def run(self) -> Dict[str, StageRecord]:
        os.makedirs(self.run_dir, exist_ok=True)
        stages = self.stages()
        keys: Dict[str, str] = {}
        ran: Dict[str, bool] = {}
        started = time.monotonic()
        for number, stage in enumerate(stages, start=1):
            after = (stage.after if stage.after is not None
                     else [stages[number - 2].name] if number > 1 else [])
            unknown = [name for name in after if name not in keys]
            if unknown:
                raise ValueError(f"stage {stage.name} depends on {unknown}, which do not run "
                                 "before it")
            key = hashlib.sha256(json.dumps([[keys[name] for name in after], stage.name,
                                             stage.params], sort_keys=True).encode()
                                 ).hexdigest()[:16]
            keys[stage.name] = key
            record = self.records.get(stage.name)
            same_inputs = (record is not None and record.key == key and not self.force
                           and not any(ran[name] for name in after))
            ran[stage.name] = False
            if same_inputs and stage.reusable and record.finished and all(
                    os.path.exists(self.path(output)) for output in stage.outputs):
                record.reused = True
                logging.info("[%d/%d] %s: reused (finished earlier in %.1f s)", number,
                             len(stages), stage.name, record.seconds)
                continue
            if not same_inputs:  # start afresh; otherwise an interrupted stage resumes
                for output in stage.outputs:
                    _remove(self.path(output))
            logging.info("[%d/%d] %s: %s", number, len(stages), stage.name, stage.description)
            record = StageRecord(key=key)
            self.records[stage.name] = record
            self.current_name = stage.name
            self._save_records()
            begin = time.monotonic()
            stage.action()
            record.seconds = time.monotonic() - begin
            record.finished = True
            ran[stage.name] = True
            self._save_records()
            logging.info("[%d/%d] %s: done in %.1f s", number, len(stages), stage.name,
                         record.seconds)
        logging.info("finished in %.1f s: %s", time.monotonic() - started, self.run_dir)
        return self.records

    def _load_records(self) -> Dict[str, StageRecord]:
        if not os.path.exists(self.records_path):
            return {}
        try:
            with open(self.records_path, encoding="utf-8") as handle:
                return {name: StageRecord(**values) for name, values in json.load(handle).items()}
        except (ValueError, TypeError) as error:
            logging.warning("%s is unreadable (%s): every stage runs again", self.records_path,
                            error)
            return {}

    def _save_records(self) -> None:
        write_atomically(self.records_path, json.dumps(
            {name: dataclasses.asdict(record) for name, record in self.records.items()},
            indent=2).encode())


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when this process ends, however it ends
    (Linux's PR_SET_PDEATHSIG; the training scripts then save and stop), and exits at once
    if this process already ended before the request was made."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class _ForwardedStops:
    """While a child runs, SIGINT/SIGTERM to this process are passed to the child (which
    saves and stops) instead of ending this process; `received` names the first."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.received = process, None
        self._previous = {}

    def __enter__(self) -> "_ForwardedStops":
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._forward)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _forward(self, number: int, frame) -> None:
        self.received = self.received or signal.Signals(number).name
        logging.warning("%s: passed to the running stage, which stops (a training saves "
                        "a checkpoint first)", signal.Signals(number).name)
        try:
            self.process.send_signal(number)
        except ProcessLookupError:
            pass


def _flag(name: str, value) -> str:
    if value is True:
        return f"--{name}"
    if value is False:
        return f"--no{name}"
    return f"--{name}={value}"


def _shell_line(arguments: Sequence[str], run_dir: str) -> str:
    """The command as typed from the current folder (a run folder inside it shortened)."""
    short = os.path.relpath(run_dir)
    if short.startswith(os.pardir):
        short = run_dir
    return "python " + " ".join(shlex.quote(part.replace(run_dir, short)) for part in arguments)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
