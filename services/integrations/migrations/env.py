"""Alembic environment of the integrations service."""

from integrations.orm import Base
from integrations.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
