"""The plugin SDK (`sdk.py`: `@tool`, manifests, scopes and every entry-point group) and the built-in tools
(`builtin/`), which register through the `edgemind.plugins` entry points exactly as a third party's do."""
