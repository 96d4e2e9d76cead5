"""What every offline command shares: commands never import each other,
every --help ends with the exit statuses the command really returns, a bad
option prints its usage once, and one JSON convention (--json prints one
document with its schema to stdout, --json-out FILE writes it)."""
import ast
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COMMANDS = os.path.join(HERE, "..", "..", "scripts", "sblib", "commands")
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
import sbfixture  # noqa: E402

MINE = ("compare", "trend", "score", "list", "publish", "merge", "reproduce", "host", "micro")
# the codes each command returns besides 0 (and 2, bad usage)
CODES = {"compare": (1, 3, 4, 5), "trend": (1, 5), "score": (1,), "publish": (1,),
         "merge": (1,), "reproduce": (1, 5), "host": (1, 75), "micro": (1,), "list": ()}


def command(name):
    return importlib.import_module("sblib.commands." + name)


class Layers(unittest.TestCase):
    def test_commands_import_no_command(self):
        # reproduce imported commands.compare and commands.merge
        for fn in [m + ".py" for m in MINE]:
            tree = ast.parse(open(os.path.join(COMMANDS, fn)).read(), fn)
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    if node.module == "sblib.commands":
                        names = [a.name for a in node.names]
                    elif node.module.startswith("sblib.commands."):
                        names = [node.module.split(".")[2]]
                elif isinstance(node, ast.Import):
                    names = [a.name.split(".")[2] for a in node.names
                             if a.name.startswith("sblib.commands.")]
                for n in names:
                    with self.subTest(file=fn, imports=n):
                        self.assertEqual(n, "_cli", f"commands/{fn} imports command {n}")


class Help(unittest.TestCase):
    def test_every_help_ends_with_its_exit_statuses(self):
        for name in MINE:
            with self.subTest(command=name):
                rc, out, err = sbfixture.run_main(command(name).main, ["--help"])
                self.assertEqual(rc, 0, err)
                block = out[out.index("exit status:"):]
                codes = [int(c) for c in re.findall(r"(?m)^  (\d+) +\S", block)]
                self.assertEqual(codes, sorted(codes))
                self.assertEqual(set(codes), {0, 2} | set(CODES[name]))

    def test_a_bad_option_prints_usage_once(self):
        # `list --bogus` printed "usage: usage: sandbench list ..."
        for name in MINE:
            with self.subTest(command=name):
                argv = ["--bogus"] + ([] if name in ("host", "list", "micro") else ["a", "b"])
                rc, out, err = sbfixture.run_main(command(name).main, argv)
                self.assertEqual(rc, 2)
                self.assertNotIn("usage: usage:", out + err)
                self.assertIn(f"usage: sandbench {name}", err)
                self.assertIn("--bogus", err)


class Json(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-offline-")
        self.set = sbfixture.make_results(os.path.join(self.dir, "a"), seed=1)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check(self, name, argv, schema):
        rc, out, err = sbfixture.run_main(command(name).main, argv + ["--json"])
        doc = json.loads(out)       # stdout holds the document and nothing else
        self.assertEqual(doc["schema"], schema)
        js = os.path.join(self.dir, name + ".json")
        rc2, out2, _ = sbfixture.run_main(command(name).main, argv + ["--json-out", js])
        self.assertEqual(rc2, rc)
        with open(js) as f:
            self.assertEqual(json.load(f)["schema"], schema)
        self.assertFalse(out2.lstrip().startswith("{"), out2)   # the text, as without it
        return doc, err

    def test_one_convention(self):
        self.check("compare", [self.set, self.set, "--resamples", "300"], "sandbench-compare/1")
        self.check("trend", [self.set, "--resamples", "300", "--allow-empty"],
                   "sandbench-trend/1")
        self.check("list", ["profiles"], "sandbench-list/1")

    def test_old_spellings_work_with_a_note(self):
        js = os.path.join(self.dir, "old.json")
        rc, out, err = sbfixture.run_main(command("compare").main,
                                          [self.set, self.set, "--json", js, "--resamples",
                                           "300"])
        self.assertEqual(rc, 0, err)
        self.assertIn("--json FILE is now --json-out FILE", err)
        with open(js) as f:
            self.assertEqual(json.load(f)["schema"], "sandbench-compare/1")
        rc, out, err = sbfixture.run_main(command("compare").main,
                                          [self.set, self.set, "--format", "json",
                                           "--resamples", "300"])
        self.assertEqual(json.loads(out)["schema"], "sandbench-compare/1")
        self.assertIn("--format json is now --json", err)
        rc, _, err = sbfixture.run_main(command("compare").main,
                                        [self.set, self.set, "--json", "--format", "text",
                                         "--resamples", "300"])
        self.assertEqual(rc, 2)
        self.assertIn("only one output can go to standard output", err)


if __name__ == "__main__":
    unittest.main()
