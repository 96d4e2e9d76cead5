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
    for node in ast.walk(ast.parse(open(path).read(), path)):
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


if __name__ == "__main__":
    unittest.main()
