"""Elapsed time, throughput and ETA for the training loop's progress lines.

Throughput and the ETA count training time only: time spent saving checkpoints and
evaluating between two lines is left out (`pause`), and the first line of a process
(which also pays for tracing the step) stops counting toward the ETA's rate once a later
line has measured it.

>>> progress = Progress(start_step=0, total_steps=100, clock=iter([0.0, 10.0, 12.0]).__next__)
>>> first = progress.lap(10)     # 10 s for 10 steps, tracing included
>>> round(first.steps_per_second, 2), format_duration(first.remaining)
(1.0, '0:01:30')
>>> second = progress.lap(20)    # 2 s for 10 steps: the rate the ETA now uses
>>> second.steps, second.steps_per_second, format_duration(second.remaining)
(10, 5.0, '0:00:16')
>>> format_duration(second.elapsed), format_duration(90061)
('0:00:12', '1 day, 1:01:01')
"""

import dataclasses
import datetime
import time
from typing import Callable, Optional


def format_duration(seconds: Optional[float]) -> str:
    """h:mm:ss (whole seconds; "?" when unknown)."""
    if seconds is None:
        return "?"
    return str(datetime.timedelta(seconds=round(seconds)))


@dataclasses.dataclass(frozen=True)
class Lap:
    """The training steps since the previous line and what they say about the rest."""

    steps: int
    steps_per_second: float
    elapsed: float  # seconds since training started in this process
    remaining: Optional[float]  # seconds the remaining steps take at the measured rate


class Progress:
    """Times the training steps of one process.

    Args:
        start_step: The step training starts (or resumes) from.
        total_steps: The step it ends at.
        clock: Seconds (monotonic); `time.monotonic` unless testing.
    """

    def __init__(self, start_step: int, total_steps: int,
                 clock: Callable[[], float] = time.monotonic):
        self._clock, self._total = clock, total_steps
        self._started = self._last_time = clock()
        self._last_step = start_step
        self._laps = 0
        self._rate_steps, self._rate_seconds = 0, 0.0  # after the first lap

    def lap(self, step: int) -> Lap:
        """Ends the lap at `step` (a progress line)."""
        now = self._clock()
        steps, seconds = step - self._last_step, max(now - self._last_time, 1e-9)
        if self._laps:  # the first lap traced the step: not the rate to come
            self._rate_steps, self._rate_seconds = (self._rate_steps + steps,
                                                    self._rate_seconds + seconds)
        rate = (self._rate_steps / self._rate_seconds if self._rate_steps
                else steps / seconds)
        self._laps += 1
        self._last_time, self._last_step = now, step
        remaining = (self._total - step) / rate if rate > 0 else None
        return Lap(steps, steps / seconds, now - self._started, remaining)

    def pause(self) -> None:
        """What ran since the last lap (a save, an evaluation) is not training time."""
        self._last_time = self._clock()
