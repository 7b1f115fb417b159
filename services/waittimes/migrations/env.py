"""Alembic environment for waittimes (the SDK runs it the same way for every service)."""

from cityhub_sdk.migrations import run_env
from cityhub_waittimes import models  # noqa: F401 - registers the tables on the metadata

run_env()
