"""What one backup drill measured, its goals, and build/drill.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.drill_load import Workload

MB = 2**20
RPO_GOAL_S = 60.0
RTO_GOAL_S = 300.0


@dataclass
class DrillResult:
    versions: dict[str, str] = field(default_factory=dict)
    archive_timeout_s: int = 60
    database_bytes: int = 0
    base_bytes: int = 0
    dump_bytes: int = 0
    wal_bytes_replayed: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    workload: Workload = field(default_factory=Workload)
    archive_mb_s: float = 0.0
    wal_generation_mb_s: float = 0.0
    backlog_max_bytes: int = 0
    rpo_load_s: float = 0.0
    rpo_kill_s: float = 0.0
    rto_db_s: float = 0.0
    kill_time: float = 0.0
    beats_committed: int = 0
    beats_restored: int = 0
    pitr_target: str = ""
    reference: dict[str, str] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    verify_exit_code: int = -1
    verify_output: str = ""
    metrics: str = ""
    job_log: str = ""
    restore_output: str = ""

    @property
    def rpo_worst_s(self) -> float:
        """The worst data loss: under the load (sampled every second) or at the kill itself."""
        return max(self.rpo_load_s, self.rpo_kill_s)

    def goals(self, min_base_bytes: int = 0, min_wal_bytes: int = 0) -> dict[str, bool]:
        return {
            f"worst RPO <= {RPO_GOAL_S:.0f} s": self.rpo_worst_s <= RPO_GOAL_S,
            f"RTO (database) <= {RTO_GOAL_S:.0f} s": self.rto_db_s <= RTO_GOAL_S,
            f"database >= {min_base_bytes / MB:.0f} MB": self.database_bytes >= min_base_bytes,
            f"WAL replayed >= {min_wal_bytes / MB:.0f} MB": self.wal_bytes_replayed >= min_wal_bytes,
            "every check equal": bool(self.checks) and all(self.checks.values()),
            "ops backup verify exit 0 after the load": self.verify_exit_code == 0,
        }

    def as_json(
        self, goals: dict[str, bool], rto_cms_s: float | None = None, rto_cms_source: str = ""
    ) -> dict[str, Any]:
        return {
            "rpo_worst_s": round(self.rpo_worst_s, 1),
            "rto_db_s": round(self.rto_db_s, 1),
            # The CMS RTO (restore start to Directus /server/health ok) is measured by the rehearsal's dr-end-to-end.
            "rto_cms_s": rto_cms_s,
            "rto_cms_source": rto_cms_source,
            "base_bytes": self.base_bytes,
            "database_bytes": self.database_bytes,
            "wal_bytes_replayed": self.wal_bytes_replayed,
            "archive_mb_s": round(self.archive_mb_s, 1),
            "wal_generation_mb_s": round(self.wal_generation_mb_s, 1),
            "archive_backlog_max_bytes": self.backlog_max_bytes,
            "rpo_under_load_s": round(self.rpo_load_s, 1),
            "rpo_at_kill_s": round(self.rpo_kill_s, 1),
            "archive_timeout_s": self.archive_timeout_s,
            "barman_version": self.versions.get("barman", ""),
            "postgres_version": self.versions.get("postgres", ""),
            "postgis_version": self.versions.get("postgis", ""),
            "phases_s": {k: round(v, 1) for k, v in self.phases.items()},
            "workload": {"batches": self.workload.batches, "lots_added": self.workload.lots_added},
            "pitr_target": self.pitr_target,
            "checks": self.checks,
            "goals": goals,
        }
