"""Alembic environment of the insights service."""

from insights.orm import Base
from insights.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
