"""The two ways a command fails: a usage or input mistake (exit 2), a runtime failure (exit 1)."""


class UsageError(Exception):
    """A mistake on the command line or in the input it names (exit 2)."""


class RuntimeFailure(Exception):
    """The command could not do its job (exit 1)."""
