"""The schema tags of sandbench's JSON files: one table, and the rule for
reading them (results/README.md, "Schema versions").

A tag is "sandbench-KIND/VERSION". A file NEWER than this table knows is
refused, naming both versions: its fields may mean what this code cannot
tell. An older one is read: spec.json as it is (every field added since
is optional), analysis.json and summary.json made again from the slices
(they are derived files). A file without a tag is of its kind's version
before tags: 0, summary.json's medians 1.
"""
from dataclasses import dataclass

from sblib.records.model import SchemaError

PREFIX = "sandbench-"

# kind: the version this sandbench writes and reads up to
CURRENT = {
    "spec": 1,            # spec.json
    "analysis": 1,        # analysis.json (written by the report)
    "summary": 2,         # summary.json (1: medians, before windows)
    "startup-spec": 1,    # startup-spec.json
    "startup": 1,         # startup.json
    "compare": 1,         # sandbench compare --json
    "trend": 1,           # sandbench trend --json
    "advice": 1,          # advice.json
    "advice-user": 1,     # advice-user.json
    "micro": 1,           # sandbench micro's spec.json
    "loadgen": 1,         # loadgen --json (bench/README.md)
    "score": 1,           # sandbench score --json
    "host-status": 1,     # sandbench host status --json
    "list": 1,            # sandbench list --json
    "releases": 1,        # units/directives/releases.json (scripts/catalogue-releases)
    "upgrade": 1,         # upgrade.json of `run --upgrade` (analysis/upgrade.py)
    "upgrade-chain": 1,   # chain.json of `run --upgrade A,B,C` (analysis/upgrade_chain.py)
}
UNTAGGED = {"summary": 1}

# the files of a results directory that carry a tag, and their kinds
FILES = {"spec.json": "spec", "analysis.json": "analysis", "summary.json": "summary",
         "startup-spec.json": "startup-spec", "startup.json": "startup"}


@dataclass(frozen=True)
class Tag:
    kind: str
    version: int

    @classmethod
    def parse(cls, text):
        """"sandbench-spec/1" as Tag("spec", 1); ValueError if it is none."""
        if isinstance(text, str) and text.startswith(PREFIX):
            kind, sep, version = text[len(PREFIX):].rpartition("/")
            if sep and kind and version.isdigit():
                return cls(kind, int(version))
        raise ValueError(f"{text!r} is not a schema tag (sandbench-KIND/VERSION)")

    def __str__(self):
        return f"{PREFIX}{self.kind}/{self.version}"


def tag(kind):
    """The tag this sandbench writes for KIND: "sandbench-spec/1"."""
    return str(Tag(kind, CURRENT[kind]))


def version(path, obj, kind):
    """The schema version of OBJ, the JSON object read from PATH, a file of
    KIND. Raises SchemaError when its tag is malformed, of another kind,
    or newer than this sandbench reads."""
    raw = obj.get("schema") if isinstance(obj, dict) else None
    if raw is None:
        return UNTAGGED.get(kind, 0)
    try:
        t = Tag.parse(raw)
    except ValueError as e:
        raise SchemaError(f"{path}: {e}") from None
    if t.kind != kind:
        raise SchemaError(f"{path} is {t}, not a {PREFIX}{kind} file")
    if t.version > CURRENT[kind]:
        raise SchemaError(f"{path} is {t}; this sandbench reads up to {tag(kind)}: "
                          f"update sandbench", newer=True)
    return t.version

