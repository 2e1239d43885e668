"""`make bench`: the services measured against a bare FastAPI ceiling on the same machine."""
