"""`make run`: the whole system on one machine, on embedded defaults.

Starts the api, meetings and notifications services (uvicorn, one process each) and the
notification worker, on SQLite files under var/, with Jitsi as the meeting provider and email
going to var/mail/ (or to SMTP when LINGKAR_SMTP_HOST is set). Dev mode seeds a demo school and
an admin client. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = (
    ("api", "services.api.main:create_app", "LINGKAR_API_PORT", 8000),
    ("meetings", "services.meetings.main:create_app", "LINGKAR_MEETINGS_PORT", 8001),
    ("notifications", "services.notifications.main:create_app", "LINGKAR_NOTIFICATIONS_PORT", 8002),
)
READY_TIMEOUT_SECONDS = 60


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LINGKAR_ENV", "dev")
    env.setdefault("LINGKAR_DATA_DIR", str(ROOT / "var"))
    env["PYTHONPATH"] = str(ROOT)
    api_port = env.get("LINGKAR_API_PORT", "8000")
    meetings_port = env.get("LINGKAR_MEETINGS_PORT", "8001")
    # The links people receive: consent links on the api, join and host links on meetings.
    env.setdefault("LINGKAR_PUBLIC_URL", f"http://127.0.0.1:{api_port}")
    env.setdefault("LINGKAR_MEETINGS_PUBLIC_URL", f"http://127.0.0.1:{meetings_port}")
    return env


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    print(f"  starting {name}")
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our loopback
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Both, explicitly: a shell starting us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    env = environment()
    host = env.get("LINGKAR_HOST", "127.0.0.1")
    python = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    print("Lingkar: starting on embedded defaults (SQLite under var/, Jitsi, mail to var/mail/)")
    try:
        urls = {}
        for name, factory, port_env, default_port in SERVICES:
            port = env.get(port_env, str(default_port))
            urls[name] = f"http://{host}:{port}"
            processes.append(
                start(
                    name,
                    [
                        python,
                        "-m",
                        "uvicorn",
                        "--factory",
                        factory,
                        "--host",
                        host,
                        "--port",
                        port,
                        "--ws",
                        "none",
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    env,
                )
            )
        for (name, *_), process in zip(SERVICES, processes, strict=True):
            if not wait_ready(urls[name] + "/readyz", process):
                print(f"ERROR: {name} did not become ready; see its log lines above.")
                return 1
        processes.append(
            start("notification worker", [python, "-m", "services.notifications.worker"], env)
        )
        print_banner(env, urls)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("ERROR: a process stopped; stopping the others.")
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    finally:
        stop_all(processes)


def print_banner(env: dict[str, str], urls: dict[str, str]) -> None:
    client_id = env.get("LINGKAR_DEV_CLIENT_ID", "dev-admin")
    secret = env.get("LINGKAR_DEV_CLIENT_SECRET", "dev-secret")
    spool = Path(env["LINGKAR_DATA_DIR"]) / "mail"
    mail = (
        f"SMTP {env['LINGKAR_SMTP_HOST']}" if env.get("LINGKAR_SMTP_HOST") else f"files in {spool}"
    )
    print(
        f"""
Lingkar is running (dev mode). Ctrl-C stops everything.

  api            {urls["api"]}   (docs: {urls["api"]}/docs)
  meetings       {urls["meetings"]}
  notifications  {urls["notifications"]}
  worker         delivering email to {mail}
  data           SQLite files in {env["LINGKAR_DATA_DIR"]}

  dev client     id: {client_id}   secret: {secret}
  get a token    curl -s -u {client_id}:{secret} -d grant_type=client_credentials \\
                   {urls["api"]}/v1/oauth/token
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
