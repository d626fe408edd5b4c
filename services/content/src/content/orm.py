"""Tables of the content service (servicekit's outbox, inbox and timers come on top)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
