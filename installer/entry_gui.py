"""The bundle's windowed program (`edgemind-gui`): the desktop app, with the `gui` command's own flags (--tray…).

Its own check processes (llama.cpp's CPU test run) come back through here as `--edgemind-native-check`, which the
CLI's main handles before anything else.
"""

import sys

from edgemind.core.cli.main import main

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args if args[:1] == ["--edgemind-native-check"] else ["gui", *args]))
