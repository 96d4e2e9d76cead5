"""Pure logic of sandbench micro: the unit text, reading syscost's JSON
stream, rows per op (ok, denied, unit failure) and the summary against the
baseline. No root, no systemd needed."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.measuring import host as _host  # noqa: E402
from sblib import templates
from sblib.commands import micro  # noqa: E402


def doc(op, ns_min, status="ok", filters=5):
    return {"schema": "syscost/1",
            "env": {"seccomp_mode": 2, "seccomp_filters": filters, "no_new_privs": 0},
            "params": {"syscall": op},
            "results": [{"mode": "none", "status": status,
                         "ns": {"min": ns_min, "median": ns_min * 1.1, "p90": ns_min * 1.3},
                         "ticks": {"min": ns_min * 2, "median": ns_min * 2.2, "p90": 0}}]}


class UnitText(unittest.TestCase):
    def test_one_execstart_per_op_and_filled(self):
        t = micro.unit_text(["getppid", "socket"], 100, 20, 2, 1)
        execs = [l for l in t.splitlines() if l.startswith("ExecStart=")]
        self.assertEqual(len(execs), 2)
        self.assertTrue(all(l.startswith("ExecStart=-@BINDIR@/syscost --json --mode none") for l in execs))
        self.assertIn("--syscall socket", execs[1])
        self.assertIn("--cpu 1", execs[0])
        self.assertIn("Type=oneshot", t)
        self.assertIn(f"StandardOutput=append:{micro.OUTFILE}", t)
        filled = _host.fill(t, templates.placeholders("/opt/sandbench/build/bin"))
        self.assertIn("ExecStart=-/opt/sandbench/build/bin/syscost", filled)


class Stream(unittest.TestCase):
    def test_concatenated_objects(self):
        text = json.dumps(doc("getppid", 900), indent=1) + "\n" + json.dumps(doc("socket", 4000))
        got = micro.parse_stream(text)
        self.assertEqual([d["params"]["syscall"] for d in got], ["getppid", "socket"])
        self.assertEqual(micro.parse_stream("  \n"), [])

    def test_garbage_raises(self):
        with self.assertRaises(ValueError):
            micro.parse_stream('{"a": 1} nonsense')


class Rows(unittest.TestCase):
    def test_ok_denied_missing(self):
        docs = [doc("getppid", 900), doc("socket", 4000, status="Input/output error")]
        rows = micro.run_rows("x", 0, docs, ["getppid", "socket", "openat"], "ok")
        by = {r["op"]: r for r in rows}
        self.assertEqual(by["getppid"]["status"], "ok")
        self.assertEqual(by["getppid"]["ns_min"], 900)
        self.assertEqual(by["getppid"]["seccomp_filters"], 5)
        self.assertEqual(by["socket"]["status"], "denied")
        self.assertEqual(by["openat"]["status"], "missing")

    def test_unit_failure(self):
        rows = micro.run_rows("x", 0, [], ["getppid"], "incompatible", "Failed to start")
        self.assertEqual(rows[0]["status"], "incompatible")
        self.assertIn("Failed", rows[0]["reason"])


class Summary(unittest.TestCase):
    def test_ratio_to_baseline_median_of_minima(self):
        rows = []
        for rep, (b, v) in enumerate([(1000, 1100), (1010, 1120), (990, 1090)]):
            rows += micro.run_rows("baseline", rep, [doc("getppid", b)], ["getppid"], "ok")
            rows += micro.run_rows("sf", rep, [doc("getppid", v, filters=8)], ["getppid"], "ok")
        s = micro.summarize(rows, ["baseline", "sf"], ["getppid"])
        self.assertEqual(s["baseline"]["getppid"]["ns_min"], 1000)
        self.assertAlmostEqual(s["baseline"]["getppid"]["ratio"], 1.0)
        self.assertEqual(s["sf"]["getppid"]["ns_min"], 1100)
        self.assertAlmostEqual(s["sf"]["getppid"]["ratio"], 1.1)
        self.assertEqual(s["sf"]["getppid"]["seccomp_filters"], 8)
        md = micro.summary_markdown(s, ["baseline", "sf"], ["getppid"])
        self.assertIn("| sf | 8 | 1100 (×1.10) |", md)

    def test_failed_variant(self):
        rows = micro.run_rows("baseline", 0, [doc("getppid", 1000)], ["getppid"], "ok")
        rows += micro.run_rows("bad", 0, [], ["getppid"], "incompatible", "why")
        s = micro.summarize(rows, ["baseline", "bad"], ["getppid"])
        self.assertEqual(s["bad"]["getppid"]["status"], "incompatible")
        self.assertIn("incompatible", micro.summary_markdown(s, ["baseline", "bad"], ["getppid"]))


class Args(unittest.TestCase):
    def test_bad_arguments_exit_2(self):
        self.assertEqual(micro.main(["--syscalls", "nope"]), 2)
        self.assertEqual(micro.main(["--reps", "0"]), 2)
        self.assertEqual(micro.main(["--directives", "no-such-directive"]), 2)
        self.assertEqual(micro.main(["--directives", "a", "--profile", "b"]), 2)
        self.assertEqual(micro.main(["--help"]), 0)


if __name__ == "__main__":
    unittest.main()
