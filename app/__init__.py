"""The PySide6 desktop app: a thin shell over `edgemind.core`. Not built yet: `edgemind` starts the terminal chat."""
