"""Client-side throttle for Marketo's shared limits: calls per sliding window and calls in flight.

Hand-written rather than pyrate-limiter because the two limits must be judged together under one
lock: pyrate-limiter counts rates only, so it would still need a semaphore beside it, and it cannot
count a call as "in the window" until the call has *finished* (see `CallLimiter.slot`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CallLimiter:
    """Blocks callers until a call fits both limits; never fails.

    A call occupies the window from the moment it starts until `window_seconds` after it ends.
    Counting from the end is deliberately pessimistic: the server stamps a call when it arrives,
    which is somewhere between our start and our end, so ours can never look older than theirs.
    """

    def __init__(
        self,
        calls_per_window: int,
        window_seconds: float,
        max_concurrent: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        if calls_per_window < 1 or max_concurrent < 1 or window_seconds <= 0:
            raise ValueError("calls_per_window and max_concurrent must be >= 1 and window_seconds > 0")
        self.calls_per_window = calls_per_window
        self.window_seconds = window_seconds
        self.max_concurrent = max_concurrent
        self._clock = clock
        self._changed = threading.Condition()
        self._in_flight = 0
        self._finished_at: deque[float] = deque()  # end times of calls still inside the window
        self._paused_until = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one call slot for the duration of the `with` block (one HTTP request)."""
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def pause(self, seconds: float) -> None:
        """Stop every caller from starting a call for `seconds` (after the server said 606)."""
        with self._changed:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._changed.notify_all()

    def _acquire(self) -> None:
        with self._changed:
            while True:
                now = self._clock()
                while self._finished_at and self._finished_at[0] <= now - self.window_seconds:
                    self._finished_at.popleft()
                wait = self._seconds_until_free(now)
                if wait == 0.0:
                    self._in_flight += 1
                    return
                # wait=None: only a finishing call can free a slot, and it will notify us.
                self._changed.wait(timeout=wait)

    def _seconds_until_free(self, now: float) -> float | None:
        if now < self._paused_until:
            return self._paused_until - now
        if self._in_flight >= self.max_concurrent:
            return None
        if self._in_flight + len(self._finished_at) < self.calls_per_window:
            return 0.0
        if not self._finished_at:  # the window is full of calls still in flight
            return None
        return max(self._finished_at[0] + self.window_seconds - now, 0.001)

    def _release(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._finished_at.append(self._clock())
            self._changed.notify_all()
