"""The catalogue's release probe (sblib.measuring.releases): its judgement
of systemd-analyze output, the probe unit, and the first release of each."""
import contextlib
import io
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

    def test_a_drop_in_of_ones_own_gets_a_unit_name_systemd_takes(self):
        # '+' is no unit name character: systemd-analyze said "Invalid argument"
        # for the name, which read as the directive refused
        self.assertEqual(releases.unit_name("protect-system-strict+read-write-paths"),
                         "sbprobe-protect-system-strict_read-write-paths.service")
        self.assertEqual(releases.unit_name("private-tmp-yes"), "sbprobe-private-tmp-yes.service")
        out = ("/run/sandbench-probe/sbprobe-a_b.service:7: Unknown key name 'Nope' in section "
               "'Service', ignoring.")
        self.assertTrue(releases.judge(out, "a+b").startswith("unknown: Unknown key name"))

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


class FakeHost:
    """A host whose systemd answers `systemctl --version` with LINE and
    `systemd-analyze verify` with VERIFY; records what ran."""

    def __init__(self, line, verify="", root="/"):
        self.line, self.verify_out, self.root, self.bindir = line, verify, root, "/b"
        self.ran, self.files = [], {}

    def run(self, argv, timeout=60, check=False):
        self.ran.append(argv)
        out = self.line + "\n+PAM" if argv[0] == "systemctl" else \
            self.verify_out if argv[:2] == ["systemd-analyze", "verify"] else ""

        class R:
            stdout, stderr, returncode = out, "", 0
        return R()

    def write(self, path, text):
        self.files[path] = text


class Refused(unittest.TestCase):
    def test_from_releases_json_when_the_host_is_a_probed_systemd(self):
        doc = releases.load()
        line = doc["releases"]["bookworm"]["systemd"]
        h = FakeHost(line)
        why = releases.refused(h, "private-tmp-disconnected")
        self.assertTrue(why.startswith("private-tmp-disconnected: unknown to systemd 252 "
                                       "(release bookworm): Failed to parse"), why)
        self.assertIsNone(releases.refused(h, "private-tmp-yes"))
        self.assertFalse([a for a in h.ran if a[0] == "systemd-analyze"])   # no probe needed

    def test_another_systemd_is_probed_in_the_host(self):
        h = FakeHost("systemd 247 (247.3-7+deb11u6)", verify=(
            "/run/sandbench-probe/sbprobe-private-tmp-disconnected.service:6: Failed to parse "
            "boolean value, ignoring: disconnected\n"))
        why = releases.refused(h, "private-tmp-disconnected")
        self.assertIn("unknown to systemd 247 (release this root)", why)
        self.assertIn("PrivateTmp=disconnected", h.files[
            "/run/sandbench-probe/sbprobe-private-tmp-disconnected.service"])
        h.verify_out = ""
        self.assertIsNone(releases.refused(h, "private-tmp-yes"))
        # asked once per host and directive
        n = len(h.ran)
        releases.refused(h, "private-tmp-disconnected")
        self.assertEqual(len(h.ran), n)

    def test_a_stand_in_host_without_systemd_refuses_nothing(self):
        self.assertIsNone(releases.refused(object(), "private-tmp-disconnected"))

    def test_systemd_major(self):
        self.assertEqual(releases.systemd_major("systemd 254 (254.26-1~bpo12+1)"), 254)
        self.assertIsNone(releases.systemd_major("no"))


class Stack(unittest.TestCase):
    def test_dpkg_and_kernel(self):
        got = releases.parse_dpkg("installed systemd 257.13-1~deb13u1\n"
                                  "not-installed libssl3 \ninstalled libssl3t64 3.5.10-1\n")
        self.assertEqual(got, {"systemd": "257.13-1~deb13u1", "libssl3t64": "3.5.10-1"})
        self.assertEqual(releases.kernel_package(
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.129-1 (2025-03-06)"), "6.1.129-1")
        self.assertEqual(releases.kernel_package("#1 SMP @0"), "#1 SMP @0")

    def test_release_name(self):
        h = FakeHost("x")
        self.assertEqual(releases.release_name(h, 'VERSION_CODENAME=bookworm\n'), "bookworm")
        self.assertIsNone(releases.release_name(h, ""))


class SupportTable(unittest.TestCase):
    def test_every_release_with_what_was_not_probed(self):
        doc = {"releases": {"trixie": {"directives": {"a": {"status": "known"}}}},
               "since": {"a": "trixie"}}
        rels, rows = releases.support_table(doc, ["a", "b"])
        self.assertEqual(rels, list(releases.RELEASES))
        self.assertEqual(rows[0][1]["trixie"], "known")
        self.assertEqual(rows[0][1]["bullseye"], "not probed")
        self.assertEqual(rows[1][1]["trixie"], "not probed")
        rels, rows = releases.support_table(doc, ["a"], "trixie")
        self.assertEqual((rels, rows), (["trixie"], [("a", {"trixie": "known"}, "trixie")]))


class Options(unittest.TestCase):
    def test_release_and_root_reach_the_host(self):
        from sblib.measuring import runplan
        a = runplan.parse(["--release", "trixie", "--servers", "drop"])
        self.assertEqual(releases.host_args(a), {"root": None, "release": "trixie"})
        self.assertEqual(runplan.build_plan(a)["release"], "trixie")
        a = runplan.parse(["--servers", "drop"])
        self.assertNotIn("release", runplan.build_plan(a))
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            runplan.parse(["--release", "sid"])
