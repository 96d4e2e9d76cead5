"""What every measurement in the sandbox host does around its work: SIGTERM
taken as an interrupt (like Ctrl-C) while it runs, its clean-up shielded
from a second Ctrl-C, and the exit status of the state it ended in."""
import contextlib
import signal

from sblib.measuring import host as _host

# the state a measurement ended in -> its command's exit status (else 1)
EXIT = {"complete": 0, "interrupted": 130, "busy": _host.EX_TEMPFAIL}
# what a measurement's command adds to the exit statuses every command has
EXIT_HELP = {_host.EX_TEMPFAIL: "the sandbox host stayed busy (its lock, past --lock-timeout)",
             130: "interrupted"}


def exit_status(state):
    return EXIT.get(state, 1)


@contextlib.contextmanager
def interruptible():
    """The body gets KeyboardInterrupt on SIGTERM too, so that a killed run
    cleans up as an interrupted one does."""
    def on_term(*_):
        raise KeyboardInterrupt()
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def shielded():
    """The body (a clean-up: units stopped, the host taken down) runs with
    SIGINT ignored: a second Ctrl-C must not leave a container behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
