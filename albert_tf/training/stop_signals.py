"""Ctrl-C (SIGINT) and SIGTERM while training: noted, so the loop can save and stop.

TensorFlow runs a call of the training loop (up to `iterations_per_loop` steps) without
returning to Python, so a signal is acted on when that call returns: the loop then writes
a checkpoint at the step reached and raises `errors.Stopped`. A second signal before that
stops at once (`KeyboardInterrupt`) and keeps the checkpoints already written.

Handlers are installed only in the main thread (where Python delivers signals) and the
previous ones are put back on exit.

>>> import os, signal
>>> before = signal.getsignal(signal.SIGTERM)
>>> with StopSignals() as stops:
...     os.kill(os.getpid(), signal.SIGTERM)
...     stops.requested
'SIGTERM'
>>> signal.getsignal(signal.SIGTERM) is before
True
"""

import signal
import threading
from typing import Optional

from absl import logging

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """A context in which SIGINT/SIGTERM set `requested` (the signal's name) instead of
    ending the process.

    Args:
        enabled: False leaves the handlers as they are (multi-worker runs, where one
            worker cannot save alone).
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.requested: Optional[str] = None
        self._previous = {}

    def __enter__(self) -> "StopSignals":
        if self.enabled and threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _handle(self, number: int, frame) -> None:
        name = signal.Signals(number).name
        if self.requested:
            raise KeyboardInterrupt(f"{name} again: stopped without saving")
        self.requested = name
        logging.warning("%s received: saving a checkpoint when the running steps end, then "
                        "stopping (send it again to stop at once without saving)", name)
