"""What every command shares: the JSON convention, the exit-status text of
--help, and the one Usage error.

The JSON convention, the same for every command that has a document to give:
  --json            print one JSON document to stdout (its "schema" inside),
                    instead of the text
  --json-out FILE   also write that document to FILE (atomically), the text
                    still printed
"""
import argparse
import json

from sblib.util import write_atomic

# exit statuses every command uses the same way
EXIT = {0: "done", 1: "failed (the message says why)", 2: "bad usage or unreadable input"}


class Usage(Exception):
    """Bad options or input: the command prints the message and exits 2."""


def exit_text(extra=None):
    """The "exit status:" block of a command's --help: EXIT with EXTRA
    ({code: meaning}) merged in."""
    codes = {**EXIT, **(extra or {})}
    return "exit status:\n" + "\n".join(f"  {k:<4}{v}" for k, v in sorted(codes.items()))


def parser(prog, description, exits=None, **kw):
    """An ArgumentParser whose --help ends with the exit statuses."""
    return argparse.ArgumentParser(prog=prog, description=description,
                                   epilog=exit_text(exits),
                                   formatter_class=argparse.RawDescriptionHelpFormatter, **kw)


def add_json(p):
    p.add_argument("--json", action="store_true",
                   help="print one JSON document (its schema inside) to stdout instead of text")
    p.add_argument("--json-out", metavar="FILE",
                   help="also write that JSON document to FILE")


def emit_json(doc, a):
    """The JSON convention: DOC (a dict with "schema") to stdout when a.json,
    to a.json_out when given. Returns True when stdout got the JSON (the
    caller then prints no text)."""
    if "schema" not in doc:
        raise ValueError("a JSON document needs its schema")
    text = json.dumps(doc, indent=1, sort_keys=False, default=str) + "\n"
    if getattr(a, "json_out", None):
        write_atomic(a.json_out, text)
    if getattr(a, "json", False):
        print(text, end="")
        return True
    return False
