"""Alembic environment of the rewards service."""

from rewards.orm import Base
from rewards.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
