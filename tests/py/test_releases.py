"""The catalogue's release probe (sblib.measuring.releases): its judgement
of systemd-analyze output, the probe unit, and the first release of each."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sblib import catalogue as cat  # noqa: E402
from sblib.measuring import releases  # noqa: E402


class Judge(unittest.TestCase):
    def test_unknown_value_and_key(self):
        out = ("/run/systemd/system/sbprobe-private-tmp-disconnected.service:6: Failed to parse "
               "boolean value, ignoring: disconnected\n")
        self.assertEqual(releases.judge(out, "private-tmp-disconnected"),
                         "unknown: Failed to parse boolean value, ignoring: disconnected")
        out = ("/run/systemd/system/sbprobe-x.service:5: Unknown key name 'NewThing' in section "
               "'Service', ignoring.")
        self.assertTrue(releases.judge(out, "x").startswith("unknown: Unknown key name"))

    def test_other_units_lines_are_not_its_business(self):
        out = ("/lib/systemd/system/other.service:3: Unknown key name 'X' in section 'Unit'\n"
               "sbprobe-y.service: Command /bin/true is not executable\n")
        self.assertEqual(releases.judge(out, "x"), "known")
        self.assertEqual(releases.judge("", "x"), "known")

    def test_unit_text(self):
        t = releases.unit_text("a", "[Service]\nPrivateTmp=yes\nReadWritePaths=@RUNDIR@\n", "/b")
        self.assertIn("Type=oneshot\nExecStart=/bin/true\nPrivateTmp=yes\n", t)
        self.assertIn("ReadWritePaths=/run/sandbench", t)
        self.assertEqual(t.count("[Service]"), 1)


class Since(unittest.TestCase):
    def test_first_release_from_which_on_every_one_knows(self):
        k, u = {"status": "known"}, {"status": "unknown: x"}
        got = releases.since({"bullseye": {"a": u, "b": k, "c": u},
                              "bookworm": {"a": k, "b": k, "c": u},
                              "trixie": {"a": k, "b": u, "c": u}},
                             ["bullseye", "bookworm", "trixie"])
        self.assertEqual(got, {"a": "bookworm", "b": None, "c": None})


class Committed(unittest.TestCase):
    def test_releases_json_covers_the_catalogue(self):
        # scripts/catalogue-releases writes it; a directive added without
        # running it again is caught here
        with open(os.path.join(cat.DIRECTIVES, "releases.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema"], "sandbench-releases/1")
        self.assertEqual(sorted(doc["since"]), sorted(cat.directive_names()))
        for rel, r in doc["releases"].items():
            self.assertEqual(sorted(r["directives"]), sorted(cat.directive_names()), rel)


if __name__ == "__main__":
    unittest.main()
