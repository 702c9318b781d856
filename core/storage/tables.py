"""Every table of EdgeMind's database in one metadata: what Alembic compares the migrations against
(`migrations/env.py`) and what the schema test checks. Importing it imports each module that declares a table; the
engine never needs to."""

from __future__ import annotations

from sqlalchemy import MetaData

# Importing a module declares its tables on Base.metadata.
from ..models import registry  # noqa: F401  (user_models, model_verifications)
from ..tools import permissions  # noqa: F401  (grants)
from . import audit, chat_settings, conversations  # noqa: F401  (audit log; presets; conversations, messages)
from .schema import Base

metadata: MetaData = Base.metadata
