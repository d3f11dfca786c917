"""The steps of `make run`, told on stderr as they happen (stdout keeps only its `url:` and `token:` lines): each
step's name when it starts and its time when it ends, or, when it fails, which step, why, and what to do."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class StepFailed(RuntimeError):
    """A step of `make run` failed; `hint` says what to do about it."""

    def __init__(self, title: str, cause: BaseException, hint: str) -> None:
        super().__init__(f"{title} failed: {type(cause).__name__}: {cause}")
        self.title = title
        self.hint = hint


@dataclass
class Steps:
    say: Callable[[str], None]

    def run(self, title: str, hint: str, action: Callable[[], T]) -> T:
        self.say(f"{title}…")
        began = time.monotonic()
        try:
            result = action()
        except Exception as exc:  # any failure of the step is told with its name; Ctrl-C passes through
            self.say(f"{title}: failed after {time.monotonic() - began:.1f} s")
            raise StepFailed(title, exc, hint) from exc
        self.say(f"{title}: ready in {time.monotonic() - began:.1f} s")
        return result
