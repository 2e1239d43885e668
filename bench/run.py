"""`make bench`: throughput, latency and memory of the services, each beside the ceiling.

    python -m bench.run [--quick] [--scenario read,list,...] [--million] [--keep]

Scenarios: read, list, create, notifications, scale, memory (start-up and RSS are always
measured). `--million` makes the scale scenario compare 10,000 with 1,000,000 stored sessions
(the seeding takes minutes; its time is printed); without it, 10,000 with 100,000.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench import consent, mail, report, seed, wrk
from bench.report import Row
from bench.stack import (
    SERVICES,
    Stack,
    compile_sources,
    cpu_seconds,
    create_database,
    drop_database,
    free_port,
    postgres_cpu_seconds,
)

SCENARIOS = ("read", "list", "create", "notifications", "consent", "scale")


@dataclass
class Plan:
    seconds: float
    connections: int
    scenarios: tuple[str, ...]
    emails: int
    big: int
    keep: bool


def measure(stack: Stack, name: str, load: wrk.Load, plan: Plan) -> wrk.Measured:
    """Load the process `name` of the stack; what wrk saw, and the CPU each request cost it and
    PostgreSQL (a steadier figure than throughput on a shared machine)."""
    url = stack.url(name)
    wrk.run(url, load, connections=plan.connections, seconds=1)  # warm up: imports, pools, caches
    pid = stack.running[name].pid
    before, db_before = cpu_seconds(pid), postgres_cpu_seconds()
    got = wrk.run(url, load, connections=plan.connections, seconds=plan.seconds)
    spent, db_spent = cpu_seconds(pid) - before, postgres_cpu_seconds() - db_before
    per_request = 1000 / max(got.requests, 1)
    return replace(got, cpu_ms=spent * per_request, db_cpu_ms=db_spent * per_request)


def ceiling_row(name: str, got: wrk.Measured) -> Row:
    return Row(
        scenario=name,
        rps=got.rps,
        p50_ms=got.p50_ms,
        p95_ms=got.p95_ms,
        p99_ms=got.p99_ms,
        errors=got.errors,
        cpu_ms=got.cpu_ms,
        db_cpu_ms=got.db_cpu_ms,
    )


def row(name: str, got: wrk.Measured, ceiling: wrk.Measured, goal: str, share: float) -> Row:
    """A scenario's figures beside the ceiling; met when its share reaches `share`."""
    r = ceiling_row(name, got)
    r.ceiling_rps, r.goal = ceiling.rps, goal
    r.met = (r.ratio or 0) >= share and got.errors == 0
    return r


def reads(stack: Stack, kit: seed.School, plan: Plan, ceiling: wrk.Measured) -> list[Row]:
    rows = []
    if "read" in plan.scenarios:
        for n in (1, 3):
            paths = tuple(f"/sessions/{i}?statements={n}" for i in kit.session_ids)
            name = f"floor: bare FastAPI + {n} SQL read{'s' * (n > 1)}"
            rows.append(floor(stack, plan, ceiling, name, paths, "no auth, no middleware"))
        load = wrk.Load(paths=tuple(f"/v1/sessions/{i}" for i in kit.session_ids), headers=kit.auth)
        got = measure(stack, "api", load, plan)
        r = row("GET /v1/sessions/{id}", got, ceiling, ">=40%, p99<=20ms", 0.40)
        r.met = bool(r.met) and got.p99_ms <= 20
        rows.append(r)
    if "list" in plan.scenarios:
        name, paths = "floor: bare FastAPI + 50 rows, members", ("/sessions?limit=50",)
        rows.append(floor(stack, plan, ceiling, name, paths, "two statements, no gate"))
        load = wrk.Load(paths=("/v1/sessions?limit=50",), headers=kit.auth)
        got = measure(stack, "api", load, plan)
        rows.append(row("GET /v1/sessions?limit=50", got, ceiling, ">=10%", 0.10))
    return rows


def floor(
    stack: Stack, plan: Plan, ceiling: wrk.Measured, name: str, paths: tuple[str, ...], how: str
) -> Row:
    """The ceiling plus PostgreSQL on a raw asyncpg pool and nothing of Lingkar
    (bench/floor.py): the fastest a database-backed answer can be here."""
    r = row(name, measure(stack, "floor", wrk.Load(paths=paths), plan), ceiling, "", 0)
    r.met, r.note = None, f"raw asyncpg, {how}: the fastest such an answer is here"
    return r


def create(stack: Stack, kit: seed.School, plan: Plan, ceiling_post: wrk.Measured) -> Row:
    load = wrk.Load(
        paths=("/v1/sessions",),
        method="POST",
        headers=(*kit.auth, ("Content-Type", "application/json")),
        body=json.dumps(seed.session_body(kit.group_id)),
    )
    got = measure(stack, "api", load, plan)
    r = row("POST /v1/sessions", got, ceiling_post, ">=15%", 0.15)
    r.note = "beside the ceiling's POST of a JSON body"
    return r


def notifications(stack: Stack, kit: seed.School, plan: Plan, inbox: mail.Inbox) -> Row:
    accepted = mail.accept(stack.url("notifications"), kit.school_id, plan.emails)
    inbox.received.clear()
    inbox.first = inbox.last = None
    started = time.monotonic()
    for n in (1, 2):
        stack.start(f"worker-{n}")
    workers = [stack.running[f"worker-{n}"].pid for n in (1, 2)]
    # The CPU per email from the 20th message on: the workers' start (imports) is not in it.
    mail.wait_delivered(inbox, min(20, plan.emails), seconds=60)
    counted, before = inbox.total, sum(cpu_seconds(pid) for pid in workers)
    db_before = postgres_cpu_seconds()
    complete = mail.wait_delivered(inbox, plan.emails, seconds=plan.emails / 20 + 30)
    per_email = 1000 / max(inbox.total - counted, 1)
    cpu_ms = (sum(cpu_seconds(pid) for pid in workers) - before) * per_email
    db_cpu_ms = (postgres_cpu_seconds() - db_before) * per_email
    time.sleep(1.0)  # a late duplicate would arrive now
    twice = sum(1 for c in inbox.received.values() if c > 1)
    lost = plan.emails - len(inbox.received)
    span = (inbox.last or started) - (inbox.first or started)
    rate = (len(inbox.received) - 1) / span if span > 0 else 0.0
    return Row(
        scenario="emails, 2 workers -> aiosmtpd",
        rps=rate,
        errors=lost + twice,
        cpu_ms=cpu_ms,
        db_cpu_ms=db_cpu_ms,
        goal=">=300/s, 0 lost, 0 twice",
        met=complete and rate >= 300 and lost == 0 and twice == 0,
        note=f"{plan.emails} emails; {lost} lost, {twice} twice; accepted in {accepted:.1f}s; "
        f"first delivered {(inbox.first or started) - started:.1f}s after the workers started",
    )


def consents(stack: Stack, kit: seed.School) -> Row:
    body = seed.session_body(kit.group_id)
    # Two rounds, each on 50 sessions of its own: the first warms what a burst finds cold
    # after a start (each pool's new connections and their type set-up, caches), as the first
    # second of each wrk scenario does; the row is the second, the note gives the first.
    cold = consent.run(stack, kit.token, kit.counselor_id, body)
    got = consent.run(stack, kit.token, kit.counselor_id, body)
    waits = got["waits_ms"]
    p50, p95, p99 = (consent.percentile(waits, q) for q in (0.5, 0.95, 0.99))
    lost = got["asked"] - got["linked"] + cold["asked"] - cold["linked"]
    after, posts = got["after_answer_ms"], got["post_ms"]
    cpu = got["cpu_ms_per_grant"]
    return Row(
        scenario="consent granted -> member's link",
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        errors=lost,
        cpu_ms=cpu["api"],
        db_cpu_ms=cpu["db"],
        goal="median<=50ms, p99<=150ms",
        met=lost == 0 and p50 <= 50 and p99 <= 150,
        extra={
            "after_answer_p50_ms": consent.percentile(after, 0.5),
            "after_answer_p99_ms": consent.percentile(after, 0.99),
            "post_p50_ms": consent.percentile(posts, 0.5),
            "first_round_p50_ms": consent.percentile(cold["waits_ms"], 0.5),
            "first_round_p99_ms": consent.percentile(cold["waits_ms"], 0.99),
            "cpu_ms_per_grant": cpu,
            "cpu_ms_per_grant_until_the_outbox_is_empty": got["cpu_ms_per_grant_whole"],
        },
        note=f"{got['asked']} consents at once through the public consent link; Zoom, a fake "
        "answering in 20 ms (the meetings are made before the clock runs; admitting a member "
        f"calls no Zoom); the POST itself: p50 {consent.percentile(posts, 0.5):.0f} ms; "
        f"after its answer: p50 {consent.percentile(after, 0.5):.0f} ms, "
        f"p99 {consent.percentile(after, 0.99):.0f} ms; the first round, on pools cold from "
        f"the start: p50 {consent.percentile(cold['waits_ms'], 0.5):.0f} ms, "
        f"p99 {consent.percentile(cold['waits_ms'], 0.99):.0f} ms; "
        f"{lost} without a link after 60 s (both rounds); "
        f"CPU per grant, POST to link (ms): {', '.join(f'{k} {v}' for k, v in cpu.items())}; "
        "until the outbox is empty: "
        f"{', '.join(f'{k} {v}' for k, v in got['cpu_ms_per_grant_whole'].items())}; "
        f"refused grants: {(cold['failed_statuses'] + got['failed_statuses']) or 'none'}",
    )


def scale(stack: Stack, kit: seed.School, plan: Plan) -> list[Row]:
    """Read and list at 10,000 and at the large count, each beside a ceiling measured just then:
    the machine drifts over the minutes the seeding takes, so ratios are compared."""
    rows: list[Row] = []
    ratios = {}
    for total in (10_000, plan.big):
        took = seed.grow(stack, kit, total=total)
        print(f"  {total:,} sessions stored (seeding took {took:.1f}s)", flush=True)
        ceiling = measure(stack, "ceiling", wrk.Load(paths=("/",)), plan)
        ids = seed.sample_ids(stack, kit)
        sampled = wrk.Load(paths=tuple(f"/v1/sessions/{i}" for i in ids), headers=kit.auth)
        listed = wrk.Load(paths=("/v1/sessions?limit=50",), headers=kit.auth)
        for name, load in (("read", sampled), ("list", listed)):
            r = row(
                f"{name} @ {total:,} sessions",
                measure(stack, "api", load, plan),
                ceiling,
                "",
                0,
            )
            r.met = None
            r.extra = {"seeding_seconds": round(took, 1)}
            ratios[(name, total)] = r.ratio or 0.0
            rows.append(r)
    for name in ("read", "list"):
        small, big = ratios[(name, 10_000)], ratios[(name, plan.big)]
        # Either way round: a large table read faster than a small one is drift, not scale.
        slower = max(small / big, big / small) if small and big else float("inf")
        rows.append(
            Row(
                scenario=f"{name}: {plan.big:,} vs 10,000",
                goal="within 1.3x",
                met=slower <= 1.3,
                note=f"{slower:.2f}x apart (shares of the ceiling at 10,000 and {plan.big:,})",
                extra={"factor": slower},
            )
        )
    return rows


def memory(stack: Stack, starts: dict[str, float], migrated: float) -> list[Row]:
    rss, peak = stack.rss_mb("ceiling")
    rows = [
        Row(scenario="ceiling: RSS after the run", note=f"{rss:.0f} MB now, {peak:.0f} MB peak")
    ]
    for name in SERVICES:
        rss, peak = stack.rss_mb(name)
        rows.append(
            Row(
                scenario=f"{name}: RSS after the run",
                goal="<=100MB",
                met=peak <= 100,
                note=f"{rss:.0f} MB now, {peak:.0f} MB peak",
                extra={"rss_mb": round(rss, 1), "peak_rss_mb": round(peak, 1)},
            )
        )
    for name in SERVICES:
        stack.stop(name)
        again = stack.start(name)
        rows.append(
            Row(
                scenario=f"{name}: start to ready",
                goal="<=3s",
                met=again <= 3,
                note=f"{again:.2f}s with migrations current ({starts[name]:.2f}s at the first "
                f"start, after the migration step took {migrated:.2f}s)",
                extra={
                    "seconds": round(again, 2),
                    "first_start_seconds": round(starts[name], 2),
                    "migration_step_seconds": round(migrated, 2),
                },
            )
        )
    return rows


def run(plan: Plan, python: str = sys.executable) -> list[Row]:
    database = create_database()
    logs = Path(tempfile.mkdtemp(prefix="lingkar-bench-"))
    smtp_port = free_port()
    controller, inbox = mail.smtp_server(smtp_port)
    stack = Stack(database=database, logs=logs, smtp_port=smtp_port, python=python)
    print(f"bench: database {database}, logs in {logs}, services on {python}", flush=True)
    try:
        # As the deployment does it: the image's bytecode, migrations once, then the services
        # start on a current schema.
        compile_sources(python)
        migrated = stack.migrate()
        starts = {name: stack.start(name) for name in (*SERVICES, "ceiling", "floor", "zoom")}
        kit = seed.school(stack, sessions=60)
        ceiling = measure(stack, "ceiling", wrk.Load(paths=("/",)), plan)
        rows = [ceiling_row("ceiling GET (bare FastAPI)", ceiling)]
        rows += reads(stack, kit, plan, ceiling)
        if "create" in plan.scenarios:
            post = wrk.Load(
                paths=("/",),
                method="POST",
                headers=(("Content-Type", "application/json"),),
                body=json.dumps(seed.session_body(kit.group_id)),
            )
            ceiling_post = measure(stack, "ceiling", post, plan)
            rows.append(ceiling_row("ceiling POST (bare FastAPI)", ceiling_post))
            rows.append(create(stack, kit, plan, ceiling_post))
        if "notifications" in plan.scenarios:
            rows.append(notifications(stack, kit, plan, inbox))
        if "consent" in plan.scenarios:
            rows.append(consents(stack, kit))
        if "scale" in plan.scenarios:
            rows += scale(stack, kit, plan)
        rows += memory(stack, starts, migrated)
        return rows
    finally:
        stack.stop_all()
        controller.stop()
        if not plan.keep:
            drop_database(database)


def runtime_packages(python: str) -> dict[str, object]:
    """What the services ran on: the interpreter and how many distributions it has installed."""
    listed = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(len(list(m.distributions())))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"python": python, "distributions": int(listed.stdout)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per measurement, fewer emails")
    parser.add_argument("--scenario", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--million", action="store_true", help="scale to 1,000,000 sessions")
    parser.add_argument("--seconds", type=float, default=None, help="per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--emails", type=int, default=None, help="emails to deliver")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--runtime",
        default=sys.executable,
        help="the Python the services run on (make bench: requirements.lock alone, as the image)",
    )
    args = parser.parse_args(argv)
    chosen = tuple(s.strip() for s in args.scenario.split(",") if s.strip())
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}; pick from {SCENARIOS}")
    plan = Plan(
        seconds=args.seconds or (3 if args.quick else 10),
        connections=args.connections,
        scenarios=chosen,
        emails=args.emails or (600 if args.quick else 3000),
        big=1_000_000 if args.million else 100_000,
        keep=args.keep,
    )
    machine = report.machine()
    ticks = report.cpu_ticks()
    rows = run(plan, python=args.runtime)
    machine["steal_percent"] = report.steal_percent(ticks, report.cpu_ticks())
    print()
    print(report.table(rows))
    latest = "million.json" if args.million else "latest.json"
    path = report.write(
        rows,
        settings={
            **plan.__dict__,
            "scenarios": list(chosen),
            "runtime": runtime_packages(args.runtime),
        },
        machine_info=machine,
        latest=latest,
    )
    print(f"\nmachine: {machine}\nwritten: {path} (and bench/results/{latest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
