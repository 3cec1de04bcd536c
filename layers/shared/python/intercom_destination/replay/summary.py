"""What one redrive run did, as its log line, its metrics and `make replay`'s summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Summary:
    replayed: int = 0
    delivered: int = 0
    requeued: int = 0
    parked: int = 0
    stale: int = 0  # an identify or group older than one already applied to the person: skipped
    forgotten: int = 0  # of a person forgotten (make forget) after the event was received: deleted
    paused_ms: int = 0  # waiting for Intercom's rate-limit window to reset
    elapsed_ms: int = 0
    backlog: int = 0  # messages visible in the dead-letter queue when the run ended

    @property
    def per_second(self) -> float:
        return self.replayed / (self.elapsed_ms / 1000) if self.elapsed_ms else 0.0

    def describe(self) -> str:
        """For the operator: the counts, the rate, and how long the backlog takes at that rate."""
        counts = "  ".join(f"{name} {value}" for name, value in self.as_dict().items())
        rate = f"{self.per_second:.1f} messages/s"
        if not self.backlog:
            return f"{counts}  ({rate})"
        if not self.per_second:
            return f"{counts}  ({rate}; {self.backlog} waiting, no progress this run)"
        return f"{counts}  ({rate}; {self.backlog} waiting: about {self.backlog / self.per_second:.0f} s to empty)"

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: Summary) -> None:
        """Counts of one lane into the run's."""
        for name in ("replayed", "delivered", "requeued", "parked", "stale", "paused_ms"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
