"""Errors that the command line reports as one line and exit status 2."""


class UsageError(ValueError):
    """Bad input from a user: unknown model or dataset, bad value, bad folder.

    Raised before anything is written, so that a failed command leaves no
    workdir and no export behind.
    """
