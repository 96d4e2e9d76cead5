"""sandbench publish on crafted results directories: what it keeps, what it
drops, the --out it records, and what it refuses."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.analysis import results as rs  # noqa: E402
from sblib.commands import publish  # noqa: E402
from sblib.analysis import reproduction as rp  # noqa: E402
import sbfixture  # noqa: E402


def run(argv):
    return sbfixture.run_main(publish.main, argv)


def read_runs(path):
    with rs.open_runs(rs.runs_file(path)) as f:
        return [json.loads(l) for l in f if l.strip()]


class Publish(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-publish-")
        self.src = sbfixture.make_results(os.path.join(self.dir, "src"), rounds=6)
        # what a real run adds per slice: the whole loadgen object
        runs = read_runs(self.src)
        with open(os.path.join(self.src, "runs.jsonl"), "w") as f:
            for r in runs:
                r["loadgen"] = {"schema": "sandbench-loadgen/1", "timeline": [1] * 500}
                f.write(json.dumps(r) + "\n")
        with open(os.path.join(self.src, "spec.json")) as f:
            spec = json.load(f)
        spec["argv"] += ["--out", self.src]
        with open(os.path.join(self.src, "spec.json"), "w") as f:
            json.dump(spec, f)
        self.runs = runs

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_keeps_figures_drops_raw_objects(self):
        dest = os.path.join(self.dir, "pub")
        rc, out, err = run([self.src, dest, "--no-plots"])
        self.assertEqual(rc, 0, err)
        got = read_runs(dest)
        self.assertEqual(len(got), len(self.runs))
        for a, b in zip(self.runs, got):
            self.assertNotIn("loadgen", b)
            a = dict(a)
            a.pop("loadgen")
            self.assertEqual(a, b)
        self.assertFalse(os.path.exists(os.path.join(dest, "runs.jsonl")))
        self.assertLess(os.path.getsize(os.path.join(dest, "runs.jsonl.gz")),
                        os.path.getsize(os.path.join(self.src, "runs.jsonl")) / 10)
        with open(os.path.join(dest, "spec.json")) as f:
            pspec = json.load(f)
        argv = pspec["argv"]
        # the order is kept as its hash, and reproduce still tells orders apart
        with open(os.path.join(self.src, "spec.json")) as f:
            sspec = json.load(f)
        self.assertNotIn("order", pspec)
        self.assertEqual(pspec["order_sha256"], rs.order_digest(sspec))
        self.assertEqual(rp.spec_differences(pspec, sspec), [])
        sspec["order"] = sspec["order"][::-1]
        self.assertEqual(rp.spec_differences(pspec, sspec), ["the slice order differs"])
        # the same input gives the same bytes; every command reads the set
        dest2 = os.path.join(self.dir, "pub2")
        self.assertEqual(run([self.src, dest2, "--no-plots"])[0], 0)
        with open(os.path.join(dest, "runs.jsonl.gz"), "rb") as f1, \
                open(os.path.join(dest2, "runs.jsonl.gz"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        self.assertEqual(len(rs.load(dest)["runs"]), len(self.runs))
        # a damaged archive is a clear error, not a traceback
        with open(os.path.join(dest2, "runs.jsonl.gz"), "r+b") as f:
            f.truncate(os.path.getsize(os.path.join(dest2, "runs.jsonl.gz")) // 2)
        with self.assertRaises(rs.ResultsError) as e:
            rs.load(dest2)
        self.assertIn("runs.jsonl.gz: unreadable", str(e.exception))
        with open(os.path.join(dest, "runs.jsonl.gz"), "r+b") as f:   # bad deflate data
            f.seek(12)
            f.write(b"\xff" * 64)
        with self.assertRaises(rs.ResultsError):
            rs.load(dest)
        with open(os.path.join(dest2, "runs.jsonl.gz"), "wb") as f:
            f.write(b"not gzip at all")
        with self.assertRaises(rs.ResultsError):
            rs.load(dest2)
        self.assertEqual(argv[argv.index("--out") + 1], dest)
        with open(os.path.join(dest, "report.md")) as f:
            md = f.read()
        self.assertIn("--out " + dest, md)
        self.assertNotIn(self.src, md)
        self.assertIn("slices", out)

    def test_refuses_existing_dest_and_unfinished_run(self):
        dest = os.path.join(self.dir, "pub")
        os.makedirs(dest)
        rc, _, err = run([self.src, dest])
        self.assertEqual(rc, 2)
        self.assertIn("exists", err)
        os.rmdir(dest)
        with open(os.path.join(self.src, "status.json"), "w") as f:
            json.dump({"state": "interrupted"}, f)
        rc, _, err = run([self.src, dest])
        self.assertEqual(rc, 2)
        self.assertIn("not complete", err)
        self.assertFalse(os.path.exists(dest))
        rc, _, err = run([os.path.join(self.dir, "nope"), dest])
        self.assertEqual(rc, 2)
        self.assertIn("not a directory", err)

    def test_refuses_machine_paths_and_leaves_nothing(self):
        with open(os.path.join(self.src, "variants.json")) as f:
            v = json.load(f)
        next(iter(v.values()))["reason"] = "failed in " + self.src + "/x"
        with open(os.path.join(self.src, "variants.json"), "w") as f:
            json.dump(v, f)
        dest = os.path.join(self.dir, "pub")
        rc, _, err = run([self.src, dest, "--no-plots"])
        self.assertEqual(rc, 2)
        self.assertIn("paths of this machine left in the set", err)
        self.assertIn("variants.json", err)
        # and what to do: where the path is in SRC
        self.assertIn("replace them in " + os.path.join(self.src, "variants.json"), err)
        self.assertIn("then publish again", err)
        self.assertFalse(os.path.exists(dest))

    def test_merged_into_an_absolute_out(self):
        # `merge /abs/OUT /abs/A /abs/B` records those paths in spec.json:
        # publish refused the set without saying what to do; now it records
        # the set's own path and the sources by their names
        from sblib.commands import merge
        other = sbfixture.make_results(os.path.join(self.dir, "other"), rounds=6, seed=2)
        out = os.path.join(self.dir, "merged")
        self.assertEqual(sbfixture.run_main(merge.main, [out, self.src, other,
                                                         "--no-report"])[0], 0)
        dest = os.path.join(self.dir, "pub")
        rc, _, err = run([out, dest, "--no-plots"])
        self.assertEqual(rc, 0, err)
        with open(os.path.join(dest, "spec.json")) as f:
            self.assertEqual(json.load(f)["argv"], ["merge", dest, "src", "other"])
        for fn in ("spec.json", "report.md"):
            with open(os.path.join(dest, fn)) as f:
                self.assertNotIn(out, f.read())


if __name__ == "__main__":
    unittest.main()
