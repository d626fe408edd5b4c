"""Alembic environment of the content service."""

from content.orm import Base
from content.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
