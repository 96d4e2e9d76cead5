"""sandbench score on real unit files through the real systemd-analyze (offline mode)."""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.commands import score  # noqa: E402
import sbfixture  # noqa: E402

PLAIN = """[Unit]
Description=sandbench score test

[Service]
ExecStart=/usr/bin/sleep infinity
"""
HARDENED = PLAIN + """User=nobody
DynamicUser=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateNetwork=yes
ProtectSystem=strict
ProtectHome=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
RestrictAddressFamilies=AF_UNIX
"""


def run(argv):
    return sbfixture.run_main(score.main, argv)


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class Score(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-score-")
        self.plain = os.path.join(self.dir, "plain.service")
        self.hard = os.path.join(self.dir, "hard.service")
        with open(self.plain, "w") as f:
            f.write(PLAIN)
        with open(self.hard, "w") as f:
            f.write(HARDENED)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_plain_is_unsafe_with_breakdown(self):
        s = score.score_unit(self.plain)
        self.assertGreaterEqual(s["exposure"], 9.0)
        self.assertEqual(s["level"], "UNSAFE")
        names = {c["name"]: c for c in s["checks"]}
        self.assertIs(names["PrivateTmp="]["set"], False)
        self.assertGreater(names["PrivateNetwork="]["exposure"], 0)

    def test_hardening_lowers_exposure(self):
        plain = score.score_unit(self.plain)["exposure"]
        hard = score.score_unit(self.hard)
        self.assertLess(hard["exposure"], plain - 5.0)
        names = {c["name"]: c for c in hard["checks"]}
        self.assertIs(names["PrivateTmp="]["set"], True)

    def test_dropin_applied_without_touching_the_file(self):
        d = os.path.join(self.dir, "private-tmp.conf")
        with open(d, "w") as f:
            f.write("[Service]\nPrivateTmp=yes\nPrivateNetwork=yes\n")
        before = score.score_unit(self.plain)
        after = score.score_unit(self.plain, [d])
        self.assertLess(after["exposure"], before["exposure"])
        self.assertIs({c["name"]: c for c in after["checks"]}["PrivateTmp="]["set"], True)
        self.assertFalse(os.path.exists(self.plain + ".d"))
        # a UNIT.d/ directory beside the file is read, as systemd would
        os.mkdir(self.plain + ".d")
        shutil.copy(d, self.plain + ".d/")
        self.assertEqual(score.score_unit(self.plain)["exposure"], after["exposure"])

    def test_cli_text_json_threshold(self):
        rc, out, _ = run([self.plain])
        self.assertEqual(rc, 0)
        self.assertIn("overall exposure:", out)
        self.assertIn("✗ PrivateTmp=", out)
        rc, out, _ = run(["--json", self.plain, self.hard])
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertEqual(doc["schema"], "sandbench-score/1")
        self.assertEqual(len(doc["units"]), 2)
        # --json and a unit above --threshold: the document, and exit 1
        rc, out, _ = run(["--json", "--threshold", "5", self.plain])
        self.assertEqual((rc, json.loads(out)["units"][0]["unit"]), (1, self.plain))
        js = os.path.join(self.dir, "score.json")
        rc, out, _ = run(["--json-out", js, self.plain])
        self.assertIn("overall exposure:", out)
        with open(js) as f:
            self.assertEqual(json.load(f)["schema"], "sandbench-score/1")
        self.assertEqual(run(["--threshold", "5", self.plain])[0], 1)
        self.assertEqual(run(["--threshold", "5", self.hard])[0], 0)

    def test_the_repos_own_units_and_catalogue_by_name(self):
        top = os.path.join(os.path.dirname(__file__), "..", "..")
        unit = os.path.join(top, "units", "lunchd-drop.service")
        if not os.path.exists(unit):
            self.skipTest("units/ not in this tree")
        plain = score.score_unit(unit)  # @PLACEHOLDERS@ filled as `sandbench run` does
        both = score.score_unit(unit, ["system-call-filter-system-service", "private-tmp-yes"])
        self.assertLess(both["exposure"], plain["exposure"])
        self.assertIs({c["name"]: c for c in both["checks"]}["PrivateTmp="]["set"], True)

    def test_bad_input_exits_2(self):
        rc, _, err = run([os.path.join(self.dir, "missing.service")])
        self.assertEqual(rc, 2)
        self.assertIn("no such file", err)
        txt = os.path.join(self.dir, "x.txt")
        open(txt, "w").close()
        self.assertEqual(run([txt])[0], 2)
        self.assertEqual(run([])[0], 2)
        self.assertEqual(run(["--with", os.path.join(self.dir, "nope.conf"), self.plain])[0], 2)
        self.assertEqual(run(["--help"])[0], 0)

    def test_threshold_must_be_an_exposure(self):
        # -1, nan and 1e9 were accepted: -1 failed every unit, the others none
        for bad in ("-1", "nan", "1e9", "10", "inf"):
            rc, out, err = run(["--threshold", bad, self.plain])
            self.assertEqual(rc, 2, bad)
            self.assertIn("want an exposure from 0 up to (not including) 10", err)
            self.assertEqual(out, "")
        self.assertEqual(run(["--threshold", "0", self.hard])[0], 1)
        self.assertEqual(run(["--threshold", "9.99", self.plain])[0], 0)

    def test_empty_unit_is_called_empty_not_masked(self):
        empty = os.path.join(self.dir, "empty.service")
        open(empty, "w").close()
        rc, out, err = run([empty])
        self.assertEqual(rc, 0, err)
        self.assertIn("empty.service: empty (systemd reads an empty unit file as masked", err)
        self.assertNotIn("refused", err)
        rc, out, err = run([empty, self.plain, self.hard])
        self.assertEqual(rc, 0, err)
        self.assertIn("2 units scored, 1 empty (skipped)", out)
        rc, out, _ = run(["--json", empty])
        self.assertEqual(json.loads(out)["skipped"][0]["why"][:5], "empty")


class ScoreUnreadable(unittest.TestCase):
    """Files that are not UTF-8: a one-line error and exit 2 before systemd-analyze runs."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-score-")
        self.plain = os.path.join(self.dir, "plain.service")
        with open(self.plain, "w") as f:
            f.write(PLAIN)
        self.latin1 = os.path.join(self.dir, "latin1.conf")
        with open(self.latin1, "wb") as f:
            f.write(b"[Service]\n# caf\xe9\nPrivateTmp=yes\n")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check_error(self, argv, path):
        rc, out, err = run(argv)
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(path, err)
        self.assertIn("not UTF-8", err)
        self.assertNotIn("Traceback", err)

    def test_dropin_not_utf8(self):
        self.check_error(["--with", self.latin1, self.plain], self.latin1)

    def test_unit_and_its_dropin_dir_not_utf8(self):
        bad = os.path.join(self.dir, "bad.service")
        with open(bad, "wb") as f:
            f.write(PLAIN.encode() + b"# \xff\n")
        self.check_error([bad], bad)
        os.mkdir(self.plain + ".d")
        shutil.copy(self.latin1, os.path.join(self.plain + ".d", "x.conf"))
        self.check_error(["--with", "private-tmp-yes", self.plain],
                         os.path.join(self.plain + ".d", "x.conf"))


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class Fleet(unittest.TestCase):
    """Units by name as systemctl finds them, masked units, many units at once,
    --threshold naming, --with before -> after, --with-profile, what closes a check."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-score-fleet-")
        self.etc, self.lib = os.path.join(self.dir, "etc"), os.path.join(self.dir, "lib")
        os.mkdir(self.etc)
        os.mkdir(self.lib)
        for d, name, text in ((self.lib, "plain.service", PLAIN), (self.lib, "hard.service", HARDENED),
                              (self.lib, "web.service", PLAIN), (self.etc, "web.service", HARDENED)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        os.symlink("/dev/null", os.path.join(self.etc, "gone.service"))
        os.environ["SYSTEMD_UNIT_PATH"] = f"{self.etc}:{self.lib}"

    def tearDown(self):
        del os.environ["SYSTEMD_UNIT_PATH"]
        shutil.rmtree(self.dir)

    def test_names_looked_up_in_order_and_suggested(self):
        self.assertEqual(score.resolve_unit("plain"), os.path.join(self.lib, "plain.service"))
        self.assertEqual(score.resolve_unit("web.service"), os.path.join(self.etc, "web.service"))
        rc, out, _ = run(["web"])        # /etc's copy wins, as for systemctl
        self.assertEqual(rc, 0)
        self.assertIn(os.path.join(self.etc, "web.service") + ": exposure", out)
        rc, out, err = run(["plian"])
        self.assertEqual(rc, 2)
        self.assertIn("did you mean plain.service", err)

    def test_masked_skipped_and_many_units_one_line_each(self):
        units = sorted(glob.glob(os.path.join(self.lib, "*.service"))) + ["gone"]
        rc, out, err = run(units)
        self.assertEqual(rc, 0, err)
        self.assertIn("gone.service: masked (a link to /dev/null), skipped", err)
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 5, out)          # header, 3 units, total
        self.assertRegex(lines[1], r"^ +9\.\d  UNSAFE +\d+  (plain|web)\.service  PrivateNetwork=")
        self.assertIn("hard.service", lines[3])        # worst first
        self.assertIn("3 units scored, 1 masked (skipped)", lines[4])
        rc, out, _ = run(units + ["--verbose"])
        self.assertGreater(out.count("overall exposure:"), 2)

    def test_threshold_names_the_units(self):
        rc, _, err = run(["plain", "hard", "--threshold", "5"])
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"1 unit above --threshold 5: plain\.service \(9\.\d\)")
        self.assertNotIn("hard.service", err)

    def test_with_before_after_and_profile_and_typos(self):
        rc, out, _ = run(["plain", "--with", "private-tmp-yes"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"exposure 9\.\d UNSAFE → 9\.\d UNSAFE")
        self.assertRegex(out, r"✗ → ✓ PrivateTmp= +0\.2 → 0\.0")
        self.assertRegex(out, r"overall exposure: 9\.\d → 9\.\d")
        rc, out, _ = run(["plain", "--with-profile", "hardened-proxied"])
        self.assertEqual(rc, 0)
        before, after = map(float, re.search(r"exposure (\d\.\d) \w+ → (\d\.\d)", out).groups())
        self.assertLess(after, before - 3)
        rc, _, err = run(["plain", "--with", "privte-tmp-yes"])
        self.assertEqual(rc, 2)
        self.assertIn("did you mean private-tmp-yes", err)
        rc, _, err = run(["plain", "--with-profile", "hardend-drop"])
        self.assertEqual(rc, 2)
        self.assertIn("did you mean hardened-drop", err)
        from sblib import catalogue as cat      # every command's unknown directive
        self.assertIn("(did you mean protect-system-strict",
                      cat.unknown("directive", "protect-sytem-strict", cat.directive_names()))

    def test_open_check_names_the_directive_and_its_cost(self):
        rc, out, _ = run(["plain"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"✗ PrivateTmp=.*\n      closed by: (private-tmp-disconnected or )?private-tmp-yes")
        src, costs = score.published_costs()
        if src is None:
            self.skipTest("no published set in this tree")
        self.assertRegex(out, r"closed by: protect-kernel-tunables-yes \([^)]*start-up \+\d+% drop")
        self.assertIn(f"results/published/{src}", out)


if __name__ == "__main__":
    unittest.main()
