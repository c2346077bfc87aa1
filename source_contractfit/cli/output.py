"""Writing to stdout when the reader may have gone (`| head`): no traceback, nothing lost.

A closed stdout is not a failure of the command: `say` reports it by returning False and
points stdout at /dev/null, so later prints and the interpreter's final flush are quiet.
The command then finishes its work (the export has committed, the report writes its page)
and exits with the code it would have had.
"""

from __future__ import annotations

import os
import sys

# What `main` returns when a broken pipe escapes a command that does not handle it
# itself: the shell's code for a writer stopped by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the unwritten buffer and later prints go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (tests): no matter
        pass
    finally:
        os.close(devnull)


def say(text: str = "") -> bool:
    """Print `text` to stdout and flush; False when stdout's reader has closed it."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return False
    return True
