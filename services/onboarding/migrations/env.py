"""Alembic environment of the onboarding service."""

from onboarding.orm import Base
from onboarding.settings import Settings
from servicekit.migrations import run_env
from servicekit.tables import kit_metadata

run_env([kit_metadata, Base.metadata], Settings().database_url)
