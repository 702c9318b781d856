"""The bundle's console program (`edgemind`): the CLI and the API server, exactly as `pip install` makes them.

It is also the bundle's Python for the code runner: started as `edgemind -I [-S] (-c CODE | SCRIPT) [ARGS]` (the
first argument `-I`, which no EdgeMind command takes), it runs the code as `python -I` would, with the standard
library the bundle carries (plugins/builtin/sandbox/interpreter.py).
"""

import runpy
import sys
import traceback

from edgemind.core.cli.main import main


def run_as_python(args: list[str]) -> int:
    """`-I [-S] -c CODE [ARGS]` or `-I [-S] SCRIPT [ARGS]`, as CPython runs them; an uncaught error prints its
    traceback and exits 1, as CPython does."""
    while args and args[0] in ("-I", "-S"):
        args = args[1:]
    if not args:
        sys.stderr.write("edgemind: -I needs -c CODE or a script\n")
        return 2
    try:
        if args[0] == "-c":
            if len(args) < 2:
                sys.stderr.write("edgemind: -c needs the code to run\n")
                return 2
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        else:
            sys.argv = list(args)
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit:
        raise
    except BaseException:  # the snippet's own error, shown as Python shows it
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["-I"]:
        sys.exit(run_as_python(sys.argv[1:]))
    sys.exit(main())
