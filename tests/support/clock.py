"""A clock that moves only when the test moves it."""

from __future__ import annotations

START = 1_770_000_000.0


class FakeClock:
    """Seconds since the epoch, frozen until `advance` (or `t = ...`).

    It serves both shapes of clock the code takes: the core's `Clock` port (`clock.now()`) and
    a plain callable (`clock()`, as the gateway simulator and the stores' leases take it)."""

    def __init__(self, start: float = START) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
