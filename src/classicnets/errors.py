"""The one error type that means "the person asked for something we cannot do"."""


class UsageError(Exception):
    """Bad input: the message is one line naming the problem and the fix; the CLI exits 2.

    Raised before anything is written to disk, so a rejected command leaves no trace.
    """


def shown(text: str) -> str:
    """`text` as a message may quote it: escaped (ascii()) where it holds a line break or
    another unprintable character, so that the message stays one line."""
    return text if text.isprintable() else ascii(text)


def one_line(error: BaseException) -> str:
    """An underlying error in one line: its type and the first line of its text (library
    messages can run to paragraphs, or echo a damaged file's bytes, line breaks included)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
