"""The command line's one way of following work in AWS (`--wait`): check, print what changed, pause,
until done. Snapshots and copies (`cli.main.Follower`) and restores (`cli.restore.follow`) both use it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TextIO


def until_done(check: Callable[[], bool], pause: Callable[[float], None], seconds: float) -> None:
    """Call `check` until it says done, pausing `seconds` between two calls (never after the last)."""
    while not check():
        pause(seconds)


def elapsed(seconds: float) -> str:
    """`3m07s`, or `42s` under a minute: how the command line shows time passed while it follows."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class Progress:
    """The lines of one follow: each starts with the time since `began` and is printed only when the state
    of what it shows (`key`) changed since its last line, so a long wait prints one line per change."""

    out: TextIO
    clock: Callable[[], float]
    began: float
    shown: dict[Hashable, str] = field(default_factory=dict)

    def show(self, key: Hashable, state: str, line: str) -> None:
        if self.shown.get(key) != state:
            self.shown[key] = state
            print(f"  {self.elapsed():>7}  {line}", file=self.out)

    def elapsed(self) -> str:
        return elapsed(self.clock() - self.began)
