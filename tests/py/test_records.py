"""Reading and writing a results directory (sblib.records): the defects a
damaged or empty set used to slip through, schema tags checked on read,
the variant id, and the writer's atomic files (results/README.md,
"Reading a results directory")."""
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
import sbfixture  # noqa: E402
from sblib.analysis import results as rs  # noqa: E402
from sblib.commands import report  # noqa: E402


class _Dir(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.top = tempfile.mkdtemp(prefix="sb-records-")
        cls.made = sbfixture.make_results(os.path.join(cls.top, "made"), rounds=4)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.top)
        self.path = os.path.join(self.dir, "r")
        shutil.copytree(self.made, self.path)

    def runs(self):
        with open(os.path.join(self.path, "runs.jsonl")) as f:
            return [json.loads(line) for line in f]

    def write_runs(self, text):
        with open(os.path.join(self.path, "runs.jsonl"), "w") as f:
            f.write(text)

    def edit_run(self, k, **fields):
        runs = self.runs()
        runs[k].update(fields)
        self.write_runs("".join(json.dumps(r) + "\n" for r in runs))

    def load(self):
        """(rs.load's answer, what it said on standard error)."""
        err = io.StringIO()
        with redirect_stderr(err):
            res = rs.load(self.path)
        return res, err.getvalue()

    def load_error(self):
        with self.assertRaises(rs.ResultsError) as c:
            self.load()
        return str(c.exception)


class Defects(_Dir):
    """Each of these read a damaged or empty set as a good one."""

    def test_nothing_measured_is_an_error(self):
        # an empty runs.jsonl beside a "complete" status.json: the report
        # wrote an empty verdict and exited 0
        self.write_runs("")
        rc, out, err = sbfixture.run_main(report.main, [self.path, "--no-plots"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("nothing was measured", err)
        self.assertFalse(os.path.exists(os.path.join(self.path, "report.md")))
        with self.assertRaises(rs.ResultsError) as c:
            rs.analyse(rs.load(self.path))
        self.assertIn("status.json: complete", str(c.exception))

    def test_a_negative_cpu_time_is_refused(self):
        self.edit_run(6, cpu_ns_per_req=-15375.6)
        msg = self.load_error()
        self.assertIn("runs.jsonl:7: 'cpu_ns_per_req' is -15375.6, below 0", msg)

    def test_a_figure_that_is_no_number_is_refused(self):
        self.edit_run(2, rps="fast")
        self.assertIn("runs.jsonl:3: 'rps' is \"fast\", not a number", self.load_error())
        self.setUp()
        self.edit_run(0, latency_us={"p99": -1})
        self.assertIn("runs.jsonl:1: 'latency_us' 'p99' is -1, below 0", self.load_error())
        self.setUp()
        self.edit_run(0, variant="baseline")
        self.assertIn("runs.jsonl:1: 'variant' 'baseline' is not a variant id", self.load_error())
        self.setUp()
        with open(os.path.join(self.path, "variants.json")) as f:
            v = json.load(f)
        v["drop"] = v.pop("drop/baseline")
        with open(os.path.join(self.path, "variants.json"), "w") as f:
            json.dump(v, f)
        self.assertIn("variants.json: 'drop' is not a variant id SERVER/NAME", self.load_error())

    def test_a_torn_last_line_is_dropped_with_a_note(self):
        runs = self.runs()
        whole = "".join(json.dumps(r) + "\n" for r in runs)
        self.write_runs(whole + json.dumps(runs[0])[:40])    # killed mid-write
        res, err = self.load()
        self.assertEqual(len(res["runs"]), len(runs))
        self.assertIn(f"runs.jsonl:{len(runs) + 1}: the last line is cut short", err)
        # a complete last line without its newline is a record like any other
        self.write_runs(whole + json.dumps(runs[0]))
        res, err = self.load()
        self.assertEqual((len(res["runs"]), err), (len(runs) + 1, ""))

    def test_any_other_bad_line_is_an_error_naming_it(self):
        runs = self.runs()
        lines = [json.dumps(r) + "\n" for r in runs]
        lines[3] = lines[3][:40] + "\n"
        self.write_runs("".join(lines))
        self.assertIn("runs.jsonl:4: not valid JSON", self.load_error())
        # the last line, cut short but with its newline, was not torn by a kill
        self.write_runs("".join(json.dumps(r) + "\n" for r in runs) + "{not json\n")
        self.assertIn(f"runs.jsonl:{len(runs) + 1}: not valid JSON", self.load_error())


class Schema(_Dir):
    def set_tag(self, name, tag):
        p = os.path.join(self.path, name)
        with open(p) as f:
            obj = json.load(f)
        if tag is None:
            obj.pop("schema", None)
        else:
            obj["schema"] = tag
        with open(p, "w") as f:
            json.dump(obj, f)

    def test_a_newer_spec_is_refused_naming_both_versions(self):
        from sblib.records import schema
        self.set_tag("spec.json", "sandbench-spec/2")
        msg = self.load_error()
        self.assertIn("spec.json is sandbench-spec/2; this sandbench reads up to "
                      "sandbench-spec/1: update sandbench", msg)
        self.assertEqual(schema.tag("spec"), "sandbench-spec/1")

    def test_an_older_spec_is_read(self):
        self.set_tag("spec.json", None)
        res, err = self.load()
        self.assertEqual((len(res["runs"]), err), (len(self.runs()), ""))

    def test_a_tag_of_another_kind_is_an_error(self):
        self.set_tag("spec.json", "sandbench-analysis/1")
        self.assertIn("is sandbench-analysis/1, not a sandbench-spec file", self.load_error())
        self.set_tag("spec.json", "spec-1")
        self.assertIn("not a schema tag", self.load_error())

    def analysed(self):
        err = io.StringIO()
        with redirect_stderr(err):
            a, how = rs.analysed(rs.load(self.path), resamples=200)
        return how, err.getvalue()

    def write_analysis(self):
        from sblib.analysis import cache
        res = rs.load(self.path)
        cache.write(self.path, rs.analyse(res, resamples=200))
        return os.path.join(self.path, "analysis.json")

    def test_analysis_json_reused_or_made_again_with_a_note(self):
        p = self.write_analysis()
        self.assertEqual(self.analysed(), ("analysis.json", ""))
        with open(p) as f:
            text = f.read()
        # cut short (a report killed while writing it, before atomic writes)
        with open(p, "w") as f:
            f.write(text[:len(text) // 2])
        how, err = self.analysed()
        self.assertEqual(how, "analysed")
        self.assertIn("analysis.json: not valid JSON", err)
        self.assertIn("analysing the slices again", err)
        # older: made again, with a note naming both
        with open(p, "w") as f:
            f.write(text.replace('"sandbench-analysis/1"', '"sandbench-analysis/0"'))
        how, err = self.analysed()
        self.assertEqual(how, "analysed")
        self.assertIn("is sandbench-analysis/0; this sandbench writes sandbench-analysis/1", err)
        # newer: refused
        with open(p, "w") as f:
            f.write(text.replace('"sandbench-analysis/1"', '"sandbench-analysis/9"'))
        with self.assertRaises(rs.SchemaError) as c:
            self.analysed()
        self.assertIn("update sandbench", str(c.exception))
        # another set's analysis (other inputs): made again without a word
        with open(p, "w") as f:
            f.write(text)
        self.edit_run(0, rps=1.0)
        self.assertEqual(self.analysed(), ("analysed", ""))


class VariantIds(unittest.TestCase):
    def test_parse_and_print(self):
        from sblib.records.model import VariantId
        v = VariantId.parse("drop/private-tmp-yes")
        self.assertEqual((v.server, v.name, str(v), v.role),
                         ("drop", "private-tmp-yes", "drop/private-tmp-yes", "variant"))
        self.assertEqual(VariantId.parse("unit/a/b").name, "a/b")
        self.assertEqual(VariantId.parse("inetd/baseline-aa").role, "aa")
        self.assertEqual(VariantId.parse("inetd/baseline").role, "baseline")
        self.assertEqual(VariantId("drop", "x"), VariantId.parse("drop/x"))
        for bad in ("drop", "/x", "drop/", None, 3):
            with self.assertRaises(ValueError, msg=bad):
                VariantId.parse(bad)


class Writer(unittest.TestCase):
    def test_files_whole_and_readable(self):
        from sblib.records import writer
        d = tempfile.mkdtemp(prefix="sb-writer-")
        self.addCleanup(shutil.rmtree, d)
        res = writer.Results(d)
        res.write("spec.json", {"schema": "sandbench-spec/1", "x": [1]})
        res.add_runs([{"variant": "drop/baseline", "mode": "keepalive"}] * 2)
        res.status("complete")
        res.runs.close()
        self.assertEqual(sorted(os.listdir(d)), ["runs.jsonl", "spec.json", "status.json"])
        mask = os.umask(0o022)
        os.umask(mask)
        mode = stat.S_IMODE(os.stat(os.path.join(d, "spec.json")).st_mode)
        self.assertEqual(mode, 0o666 & ~mask)
        with open(os.path.join(d, "status.json")) as f:
            self.assertEqual(json.load(f)["runs_done"], 2)


if __name__ == "__main__":
    unittest.main()
