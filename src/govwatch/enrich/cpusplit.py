"""CPU time per enrichment component (fetch, parse, extraction, entities, ...), summed over stories.

Measured with ``time.thread_time()``: the CPU of the calling thread only, so the fetch threads and the Kafka
client's I/O thread never leak into the components a story's own thread spent. It is always on: a dozen laps per
story cost a few microseconds against tens of milliseconds of work. The enrich stage logs one ``enrich_cpu`` line
per batch with these figures; ``benchmarks/pipeline.py`` and ``benchmarks/profile_enrich.py`` print them.
"""

from __future__ import annotations

from time import thread_time

__all__ = ["CpuSplit"]


class CpuSplit:
    """Accumulates CPU seconds per component name; ``lap(name)`` books the time since the previous mark."""

    __slots__ = ("_mark", "seconds")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = thread_time()

    def start(self) -> None:
        """Set the mark: what ran before it is booked to no component."""
        self._mark = thread_time()

    def lap(self, component: str) -> None:
        now = thread_time()
        self.seconds[component] = self.seconds.get(component, 0.0) + now - self._mark
        self._mark = now

    def add(self, component: str, seconds: float) -> None:
        """Book CPU measured elsewhere (another thread's work, e.g. a page fetch)."""
        self.seconds[component] = self.seconds.get(component, 0.0) + seconds

    def merge(self, other: CpuSplit) -> None:
        for component, seconds in other.seconds.items():
            self.add(component, seconds)

    def millis(self) -> dict[str, float]:
        """Component -> CPU milliseconds, rounded to 0.01 ms (for a log line)."""
        return {component: round(seconds * 1000, 2) for component, seconds in self.seconds.items()}
