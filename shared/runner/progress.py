"""Progress of one experiment while a run goes: done/total, failures, ETA, live cost per role."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.llm.usage import UsageLedger


@dataclass
class ExperimentProgress:
    name: str
    total: int
    done: int = 0
    failed: int = 0
    ran: int = 0
    started: float = field(default_factory=time.monotonic)
    ledger: UsageLedger = field(default_factory=UsageLedger)
    active: list[UsageLedger] = field(default_factory=list)  # dialogues in flight, counted live
    failures: dict[str, str] = field(default_factory=dict)  # dialogue folder name -> why its attempt failed

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = f"{elapsed / self.ran * left / 60:.1f}m" if self.ran and left else "-"
        live = UsageLedger()
        live.merge(self.ledger)
        for ledger in list(self.active):
            live.merge(ledger)
        roles = live.by_role()
        cost = " ".join(f"{r} ${u.cost_usd:.4f}/{(u.prompt_tokens + u.completion_tokens) / 1000:.1f}kt" for r, u in sorted(roles.items()))
        failed = f" failed {self.failed}" if self.failed else ""
        return f"{self.name}: {self.done}/{self.total} done{failed}, ETA {eta}  {cost}"
