"""The OS keyring's stand-in for this machine (headless Linux has no Secret Service): a real `keyring` backend whose
store lives in memory, outside the data folder, as a desktop's keyring does. A third-party seam, not our code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keyring
from keyring.backend import KeyringBackend


class StandInOSKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@contextmanager
def stand_in_keyring() -> Iterator[StandInOSKeyring]:
    """keyring's process-wide backend set to a fresh stand-in, and the previous one put back after."""
    before = keyring.get_keyring()
    stand_in = StandInOSKeyring()
    keyring.set_keyring(stand_in)
    try:
        yield stand_in
    finally:
        keyring.set_keyring(before)
