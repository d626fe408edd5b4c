"""Alembic environment of the activities service."""

from activities.orm import Base
from activities.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
