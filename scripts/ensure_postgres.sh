#!/usr/bin/env bash
# The PostgreSQL half of the suite needs a server at $LINGKAR_TEST_POSTGRES (default
# 127.0.0.1:5432, user postgres). If it is down and this machine can start it, start it;
# otherwise stop with a clear message. Never skip silently.
set -u
url="${LINGKAR_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
probe() { .venv/bin/python - "$url" <<'PY'
import asyncio, sys
import asyncpg
async def main(url):
    conn = await asyncpg.connect(url, timeout=3)
    await conn.close()
try:
    asyncio.run(main(sys.argv[1]))
except Exception as exc:
    print(f"  ({type(exc).__name__}: {exc})")
    sys.exit(1)
PY
}
probe >/dev/null && exit 0
echo "PostgreSQL is not answering at $url; trying to start it ..."
if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 20); do probe >/dev/null && { echo "PostgreSQL started."; exit 0; }; sleep 0.5; done
fi
echo "ERROR: no PostgreSQL at $url, and it could not be started here." >&2
echo "Start one (user postgres, trust auth) or set LINGKAR_TEST_POSTGRES_URL, then run make test again." >&2
probe
exit 1
