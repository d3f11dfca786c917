"""`python -m bench [name ...]`: run the benchmarks (all, or those whose module name contains a given word).

Each `bench/bench_<topic>.py` exposes `main() -> None`, starts the real services it needs, and prints its
figures, with ratios against a baseline measured in the same run where one exists.
"""

from __future__ import annotations

import importlib
import pkgutil
import signal
import sys
import time
from pathlib import Path


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM, too, runs each bench's clean-up (its platform, instances and fakes)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupted)
    wanted = sys.argv[1:]
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    for name in names:
        if wanted and not any(word in name for word in wanted):
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"({name} took {time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
