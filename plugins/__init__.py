"""Plugin SDK (`sdk.py`: `@tool`, manifests, scopes, the `edgemind.plugins` entry-point group) and the built-in tools
(`builtin/`), which register through that group exactly as third-party plugins do. Never imports Qt or the shells."""
