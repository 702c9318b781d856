"""The PySide6 desktop app: a thin shell over `edgemind.core`. Nothing here does model, database or file work on the
GUI thread (`operations.Operations` runs it in workers); nothing imports this package (the CLI starts it through the
`edgemind.gui` entry point)."""
