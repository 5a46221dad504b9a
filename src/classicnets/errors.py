"""The one error type that means "the person asked for something we cannot do"."""


class UsageError(Exception):
    """Bad input: the message is one line naming the problem and the fix; the CLI exits 2.

    Raised before anything is written to disk, so a rejected command leaves no trace.
    """
