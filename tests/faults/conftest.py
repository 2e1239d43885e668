"""Fault tests run the services as real processes, like the integration tests."""

from tests.integration.conftest import smtp_server, system_database  # noqa: F401
