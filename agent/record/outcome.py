"""What a replay is told and what it reports: its options, its result, and the failure that stops it.

Kept apart from ``agent.record.replay`` (which does the replaying) so that the CLI, the report and
tests can build options and read results without the replayer's screen machinery.
``ReplayFailed`` masks the secrets of its reason on creation: the reason is printed, written to the
trajectory and shown in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from actions import secrets


class ReplayFailed(Exception):
    """A step could not be replayed safely; the replay stopped there."""

    def __init__(self, index: int, reason: str, screenshot: str | None = None):
        self.index, self.reason, self.screenshot = index, secrets.mask(reason), screenshot
        where = f" (screenshot: {screenshot})" if screenshot else ""
        super().__init__(f"step {index}: {self.reason}{where}")


@dataclass
class ReplayOptions:
    speed: float = 0.0  # 0: no pauses beyond settle waits; 1: the person's pace; 2: twice as fast
    start: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    find_timeout: float = 10.0
    change_timeout: float = 2.0
    effect_timeout: float = 10.0  # how long the recorded change of a step is awaited
    min_score: float = 0.8
    confirm: Callable[[int, str], bool] | None = None  # --step


@dataclass
class ReplayResult:
    ok: bool
    steps_done: int
    elapsed_s: float
    failed_at: int | None = None
    reason: str | None = None
    screenshot: str | None = None
    not_found: list[int] = field(default_factory=list)  # dry run: steps whose target is not on screen now
    healed: list[int] = field(default_factory=list)  # steps the agent loop did
    repaired: list[int] = field(default_factory=list)  # steps after which the calendar was paged

    def to_json(self) -> dict:
        return dict(self.__dict__)
