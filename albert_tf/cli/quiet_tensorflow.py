"""Imports TensorFlow without its C++ start-up lines (`entry_point` calls `import_quietly`
once the flags are parsed, before the script's main imports anything heavy).

TensorFlow's native runtime writes to the process's stderr before Python logging exists:
"All log messages before absl::InitializeLog() is called are written to STDERR", "Could
not find cuda drivers", "This TensorFlow binary is optimized to use available CPU
instructions", oneDNN notices and, on a machine without a GPU, "failed call to cuInit:
... UNKNOWN ERROR (303)" - none of them about the user's work, some of them alarming.
TF_CPP_MIN_LOG_LEVEL=2 does not stop the first lines (they come before it is read).

So the import and the device discovery run with file descriptor 2 sent to a temporary
file; afterwards every captured line that is not one of those known start-up lines is
written to stderr, so a real problem (a Python warning, a failed import) still shows.
`ALBERT_TF_NATIVE_LOGS=1` turns the filter off and leaves TF_CPP_MIN_LOG_LEVEL unset
(TensorFlow's own default), so every line comes back.
"""

import os
import re
import sys
import tempfile

NATIVE_LOGS = "ALBERT_TF_NATIVE_LOGS"
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc|cuda_platform\.cc.*cuInit|failed call to cuInit"
    r"|cpu_feature_guard\.cc|To enable the following instructions:"
    r"|oneDNN custom operations are on|rebuild TensorFlow with the appropriate compiler"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TF-TRT Warning|cuda_executor\.cc.*NUMA node|Could not find cuda drivers")


def startup_lines_kept(text: str) -> str:
    """`text` without TensorFlow's known start-up lines.

    >>> startup_lines_kept("I0000 cudart_stub.cc:31] Could not find cuda drivers\\n"
    ...                    "UserWarning: something real\\n")
    'UserWarning: something real\\n'
    """
    return "".join(line for line in text.splitlines(keepends=True)
                   if not STARTUP_NOISE.search(line))


def import_quietly() -> None:
    """Imports TensorFlow and lists its devices with stderr captured and filtered."""
    if os.environ.get(NATIVE_LOGS) == "1" or "tensorflow" in sys.modules:
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
            kept = startup_lines_kept(captured.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
