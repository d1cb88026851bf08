"""One warning when something starts failing, one info line when it recovers: the retry loops of
every node (source, light, sequencer, supernode) log an outage this way."""

from __future__ import annotations

import logging

__all__ = ["Outage"]


class Outage:
    """Count the consecutive failures of one thing (``what``) and say how long to wait before
    the next attempt: ``base`` doubled per failure, at most ``cap`` seconds. The first failure is
    a warning, later ones debug lines, the first success after them one info line."""

    def __init__(self, what: str, base: float, cap: float, *, logger: logging.Logger):
        self.what, self.base, self.cap = what, base, cap
        self.failures = 0
        self.log = logger

    def failed(self, exc: BaseException) -> float:
        """Record a failure; the delay before the next attempt, in seconds."""
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** min(self.failures - 1, 62))  # no float overflow on a long outage
        if self.failures == 1:
            self.log.warning(f"{self.what} failing, retrying with backoff: {exc}",
                             extra={"fields": {"retry_in": f"{delay:g}s"}})
        else:
            self.log.debug(f"{self.what} still failing (attempt {self.failures}): {exc}")
        return delay

    def ok(self) -> None:
        """Record a success (one line if it ends an outage)."""
        if self.failures:
            self.log.info(f"{self.what} recovered", extra={"fields": {"attempts": self.failures}})
            self.failures = 0
