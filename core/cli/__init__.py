"""The command-line shell (`edgemind ...`): argument parsing, terminal chat, `doctor`, and printing the engine's
events. No engine logic lives here."""
