"""Which MCP configuration values are secrets, and where they are kept (the OS keyring, else a 0600 file).

The rule: every `headers` value (HTTP servers authenticate with `Authorization`, `X-API-Key` and the like), and every
`env` value whose variable name contains KEY, TOKEN, SECRET, PASS, PWD, AUTH, CREDENTIAL, COOKIE, SESSION or PRIVATE
(case-insensitive). It errs on the side of secrecy: a false match only costs a keyring entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..secret_store import SecretStore

Field = Literal["env", "headers"]
SECRET_ENV_WORDS = ("KEY", "TOKEN", "SECRET", "PASS", "PWD", "AUTH", "CREDENTIAL", "COOKIE", "SESSION", "PRIVATE")
MASK = "***"


def is_secret(field: Field, name: str) -> bool:
    """Whether the value of `name` in `field` goes to the keyring (see the module docstring for the rule)."""
    if field == "headers":
        return True
    upper = name.upper()
    return any(word in upper for word in SECRET_ENV_WORDS)


def secret_id(server: str, field: Field, name: str) -> str:
    """The id of one secret: server names are [a-z0-9_], so `/` cannot make two ids collide."""
    return f"{server}/{field}/{name}"


@dataclass(frozen=True, slots=True)
class McpSecrets(SecretStore):
    """The env/headers secrets of one data folder's MCP servers."""

    service: ClassVar[str] = "EdgeMind MCP server secret"
    file_name: ClassVar[str] = "mcp_secrets.json"
    what: ClassVar[str] = "MCP server secret"
