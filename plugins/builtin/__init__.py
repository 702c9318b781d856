"""EdgeMind's built-in tools, registered through the same `edgemind.plugins` entry points as anyone's."""
