"""Alembic environment for notifications (the SDK runs it the same way for every service)."""

from cityhub_notifications import models  # noqa: F401 - registers the tables on the metadata
from cityhub_sdk.migrations import run_env

run_env()
