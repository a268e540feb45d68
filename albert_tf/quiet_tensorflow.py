"""TensorFlow without the lines that are not about the user's work (the README's "quiet
start"): its native start-up and run-time notices, and its Python INFO records.

TensorFlow's native runtime writes to the process's file descriptor 2, some of it before
Python logging exists: "All log messages before absl::InitializeLog() is called are
written to STDERR", "Could not find cuda drivers", "This TensorFlow binary is optimized to
use available CPU instructions", oneDNN notices, on a machine without a GPU "failed call to
cuInit: ... UNKNOWN ERROR (303)" (some of them alarming), and while running an ERROR-level
"oneDNN supports DT_INT64 only on platforms with AVX-512". TF_CPP_MIN_LOG_LEVEL=2 stops
none of these. Its Python side logs at INFO what a save or an export did inside
("Sharding callback duration", signature input renames, "Assets written to", "Writing
fingerprint").

- `import_quietly()` imports TensorFlow and lists its devices with descriptor 2 sent to a
  temporary file, then writes back every captured line that is not known noise (a Python
  warning, a failed import still shows), and drops TensorFlow's Python INFO records
  (its warnings and errors stay). The library's model packages call it on import, the
  entry scripts once their flags are parsed.
- `filter_native_stderr()` (entry scripts only, before TensorFlow is imported) sends
  descriptor 2 through a small forked process that drops the known noise lines for the
  rest of the run and passes everything else on. It outlives the script until the
  script's last write (it exits at end of file), so nothing written before a crash is
  lost, and it ignores SIGINT/SIGTERM, which are the script's to handle.

`ALBERT_TF_NATIVE_LOGS=1` turns all of it off and leaves TF_CPP_MIN_LOG_LEVEL unset
(TensorFlow's own default), so every line comes back.

This file needs only the standard library: query_saved_model.py, which must not import
albert_tf, loads it by its path.
"""

import importlib.util
import logging
import os
import re
import signal
import sys
import tempfile

NATIVE_LOGS = "ALBERT_TF_NATIVE_LOGS"
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc|cuda_platform\.cc.*cuInit|failed call to cuInit"
    r"|cpu_feature_guard\.cc|To enable the following instructions:"
    r"|oneDNN custom operations are on|rebuild TensorFlow with the appropriate compiler"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TF-TRT Warning|cuda_executor\.cc.*NUMA node|Could not find cuda drivers"
    r"|oneDNN supports DT_[A-Z0-9]+ only on platforms with"
    r"|functional_saver\.py:\d+\] Sharding callback duration")


def noise_removed(text: str) -> str:
    """`text` without TensorFlow's known noise lines.

    >>> noise_removed("I0000 cudart_stub.cc:31] Could not find cuda drivers\\n"
    ...               "UserWarning: something real\\n")
    'UserWarning: something real\\n'
    """
    return "".join(line for line in text.splitlines(keepends=True)
                   if not NOISE.search(line))


class _NoTensorFlowInfo(logging.Filter):
    """Drops INFO (and DEBUG) records logged from TensorFlow's own Python files, which log
    through absl's logger as this project does, or through their "tensorflow" logger."""

    def __init__(self, package_dir: str):
        super().__init__()
        self.package_dir = package_dir

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.levelno >= logging.WARNING
                or not (record.pathname or "").startswith(self.package_dir))


def _quiet_tensorflow_info() -> None:
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return
    package_dir = os.path.join(list(spec.submodule_search_locations)[0], "")
    for logger in (logging.getLogger("absl"), logging.getLogger("tensorflow")):
        if not any(isinstance(f, _NoTensorFlowInfo) for f in logger.filters):
            logger.addFilter(_NoTensorFlowInfo(package_dir))


def import_quietly() -> None:
    """Imports TensorFlow and lists its devices with stderr captured and filtered; keeps
    TensorFlow's Python logger to warnings and errors."""
    if os.environ.get(NATIVE_LOGS) == "1":
        return
    _quiet_tensorflow_info()
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # where cuInit reports
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = noise_removed(captured.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def filter_native_stderr() -> None:
    """From now on, descriptor 2 of this process (and of the processes it starts) passes
    through a forked filter that drops `NOISE` lines. Call it once, early, in a script."""
    if os.environ.get(NATIVE_LOGS) == "1" or getattr(filter_native_stderr, "active", False):
        return
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    if os.fork() == 0:  # the filter: reads until every writer is gone
        try:
            os.close(write_end)
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_IGN)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)  # hold none of the script's other streams open
            os.dup2(devnull, 1)
            _forward(read_end, 2)
        finally:
            os._exit(0)
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    filter_native_stderr.active = True


def _forward(read_end: int, out: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        _write(out, b"".join(line + b"\n" for line in lines
                             if not NOISE.search(line.decode("utf-8", "replace"))))
    if pending and not NOISE.search(pending.decode("utf-8", "replace")):
        _write(out, pending)


def _write(out: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(out, data):]
    except OSError:  # the reader of stderr went away: keep draining the pipe
        pass
