"""EdgeMind's local API server: OpenAI- and Ollama-compatible HTTP over the same engine the CLI and GUI use.

Secure by default: loopback only, an API key on every route but /health, loopback Host and allowlisted Origin
headers, body, rate and queue limits. It never runs EdgeMind's own tools (see `openai_api.py`).
"""

from .app import create_app
from .config import ServerConfig
from .keys import load_or_create_api_key
from .server import BackgroundServer, serve

__all__ = ["BackgroundServer", "ServerConfig", "create_app", "load_or_create_api_key", "serve"]
