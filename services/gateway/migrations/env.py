"""Alembic environment of the gateway service."""

from gateway.orm import Base
from gateway.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
