"""The bench's table and its JSON: every figure beside the ceiling of the same run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@dataclass
class Row:
    """One scenario's figures; `ratio` is throughput over the ceiling's, when it has one."""

    scenario: str
    rps: float | None = None
    ceiling_rps: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    # CPU per request: the loaded process's and PostgreSQL's, in ms.
    cpu_ms: float | None = None
    db_cpu_ms: float | None = None
    goal: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.rps is None or not self.ceiling_rps:
            return None
        return self.rps / self.ceiling_rps


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    head = (
        "scenario",
        "req/s",
        "ceiling",
        "ratio",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "cpu ms/req",
        "err",
        "goal",
    )
    lines = [
        (
            r.scenario,
            _num(r.rps),
            _num(r.ceiling_rps),
            "-" if r.ratio is None else f"{r.ratio:.1%}",
            _num(r.p50_ms, 2),
            _num(r.p95_ms, 2),
            _num(r.p99_ms, 2),
            _cpu(r),
            str(r.errors),
            f"{r.goal} {_verdict(r.met)}".strip(),
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    out = [_line(head, widths), _line(tuple("-" * w for w in widths), widths)]
    out += [_line(x, widths) for x in lines]
    out += [f"  {r.scenario}: {r.note}" for r in rows if r.note]
    return "\n".join(out)


def _cpu(r: Row) -> str:
    """The process's CPU per request, plus PostgreSQL's when it did any work."""
    if r.cpu_ms is None:
        return "-"
    db = f" + {r.db_cpu_ms:.2f} db" if r.db_cpu_ms and r.db_cpu_ms >= 0.005 else ""
    return f"{r.cpu_ms:.2f}{db}"


def _verdict(met: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: ""}[met]


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    first, *rest = cells
    return "  ".join(
        [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
    )


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model and load: the figures are only read against these."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    postgres = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "postgresql": postgres or "unknown",
    }


def cpu_ticks(stat: str | None = None) -> tuple[int, int]:
    """(stolen, all) clock ticks of every core so far, from the first line of /proc/stat.

    Stolen time is what the hypervisor gave other guests while this one wanted the CPU: on a
    shared host it is the plainest sign that a run's rates were taken on a slower machine.
    """
    line = (stat if stat is not None else Path("/proc/stat").read_text()).split("\n", 1)[0]
    # user nice system idle iowait irq softirq steal (guest time is already within user).
    ticks = [int(v) for v in line.split()[1:9]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the cores' time stolen between two `cpu_ticks` readings."""
    stolen, total = after[0] - before[0], after[1] - before[1]
    return round(100 * stolen / total, 1) if total > 0 else 0.0


def write(
    rows: list[Row],
    *,
    settings: dict[str, Any],
    machine_info: dict[str, Any],
    latest: str = "latest.json",
) -> Path:
    """bench/results/<time>.json and `latest` (latest.json, or million.json for a --million
    run, so it never replaces the full run); returns the first."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC)
    document = {
        "at": stamp.isoformat(timespec="seconds"),
        "machine": machine_info,
        "settings": settings,
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
    }
    path = RESULTS / f"{stamp:%Y%m%dT%H%M%SZ}.json"
    text = json.dumps(document, indent=2) + "\n"
    path.write_text(text)
    (RESULTS / latest).write_text(text)
    return path
