"""Tools: manifests and the registry found through plugin entry points, scopes, the permission broker and
grants, the runner that audits every call, tool-call parsing and the tool loop."""
