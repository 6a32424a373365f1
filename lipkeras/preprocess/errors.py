"""The one exception preprocessing raises for an input it cannot use."""


class SkipInput(Exception):
    """An input is skipped; ``str(exc)`` is the one-line reason written to the manifest."""
