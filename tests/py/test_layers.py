"""The library's layers hold: offline commands and the modules they stand on
import no container code, and the folders import only downwards
(scripts/README.md, "The library")."""
import ast
import importlib
import importlib.abc
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SBLIB = os.path.join(HERE, "..", "..", "scripts", "sblib")
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

OFFLINE = ("report", "compare", "trend", "merge", "score", "publish", "list")
CONTAINER = ("sblib.measuring.host", "sblib.measuring.roots", "sblib.measuring.instances",
             "sblib.measuring.usermgr")


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in CONTAINER:
            raise ImportError(f"{name} is container code (test_layers refuses it)")
        return None


def imports_of(path):
    """The sblib modules a file imports, at any depth (lazy imports too)."""
    out = set()
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sblib"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sblib"))
    return out


class Offline(unittest.TestCase):
    def test_offline_commands_import_without_the_host(self):
        saved = {k: v for k, v in sys.modules.items() if k.startswith("sblib")}
        for k in saved:
            del sys.modules[k]
        finder = _Refuse()
        sys.meta_path.insert(0, finder)
        try:
            for name in OFFLINE:
                with self.subTest(command=name):
                    m = importlib.import_module("sblib.commands." + name)
                    self.assertTrue(callable(m.main))
            loaded = [k for k in sys.modules if k in CONTAINER]
            self.assertEqual(loaded, [])
        finally:
            sys.meta_path.remove(finder)
            for k in [k for k in sys.modules if k.startswith("sblib")]:
                del sys.modules[k]
            sys.modules.update(saved)

    def test_not_even_lazily(self):
        # an import inside a function escapes the import-time test above
        for name in OFFLINE:
            got = imports_of(os.path.join(SBLIB, "commands", name + ".py"))
            with self.subTest(command=name):
                self.assertEqual(sorted(m for m in got if m in CONTAINER
                                        or m in {"sblib.measuring." + c.rsplit(".", 1)[1]
                                                 for c in CONTAINER}), [])

    def test_the_refusal_itself_works(self):
        # a test that could not fail proves nothing: the host IS refused
        finder = _Refuse()
        sys.meta_path.insert(0, finder)
        saved = sys.modules.pop("sblib.measuring.host", None)
        try:
            with self.assertRaises(ImportError):
                importlib.import_module("sblib.measuring.host")
        finally:
            sys.meta_path.remove(finder)
            if saved is not None:
                sys.modules["sblib.measuring.host"] = saved


class Downwards(unittest.TestCase):
    # a folder may import only what stands below it
    TOP = {"catalogue", "templates", "advice", "evidence", "util", "version"}
    BELOW = {
        "records": TOP,
        "analysis": TOP | {"records"},
        "report": TOP | {"analysis", "records"},
        "measuring": TOP | {"records", "analysis"},
    }

    def test_folders_import_downwards(self):
        for folder, allowed in self.BELOW.items():
            d = os.path.join(SBLIB, folder)
            for fn in sorted(os.listdir(d)):
                if not fn.endswith(".py"):
                    continue
                for mod in imports_of(os.path.join(d, fn)):
                    parts = mod.split(".")
                    if len(parts) < 2 or parts[1] == folder:
                        continue
                    with self.subTest(file=f"{folder}/{fn}", imports=mod):
                        self.assertIn(parts[1], allowed)


class CommandsStandAlone(unittest.TestCase):
    # a command never calls another: what two share is in the library
    # (scripts/README.md, "The library"), and the library never calls a command
    COMMANDS = os.path.join(SBLIB, "commands")

    @staticmethod
    def commands_imported(path):
        """The command modules (sblib.commands.X, not _cli) PATH imports."""
        return {".".join(m.split(".")[:3]) for m in imports_of(path)
                if m.startswith("sblib.commands.") and m.split(".")[2] != "_cli"}

    def test_no_command_imports_another(self):
        for fn in sorted(os.listdir(self.COMMANDS)):
            if not fn.endswith(".py"):
                continue
            for mod in sorted(self.commands_imported(os.path.join(self.COMMANDS, fn))):
                with self.subTest(file=f"commands/{fn}", imports=mod):
                    self.fail(f"commands/{fn} imports the command {mod}")

    def test_nothing_outside_imports_a_command(self):
        for top, dirs, files in os.walk(SBLIB):
            dirs[:] = [d for d in dirs if d != "commands" and not d.startswith(("_", "."))]
            for fn in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(top, fn)
                bad = sorted(m for m in imports_of(path) if m.split(".")[:2] == ["sblib",
                                                                                   "commands"])
                with self.subTest(file=os.path.relpath(path, SBLIB)):
                    self.assertEqual(bad, [])

    def test_the_rules_can_fail(self):
        # what the two tests read does catch a command imported
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
            f.write("from sblib.commands import run as r\nimport sblib.commands.advise\n"
                    "from sblib.commands._cli import Usage\nfrom sblib.commands import _cli\n")
            f.flush()
            self.assertEqual(self.commands_imported(f.name),
                             {"sblib.commands.run", "sblib.commands.advise"})


if __name__ == "__main__":
    unittest.main()
