"""The declarative base every table of EdgeMind's database derives from. It imports no table module: each one
(`audit`, `conversations`, `tools.permissions`, `models.registry`) imports this, and `tables.py` gathers them all."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
