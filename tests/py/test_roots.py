"""Clean roots per release (sblib.measuring.roots): their package lists and
names, the mmdebstrap command of each release, which release a root is,
which old roots a new one replaces, and the servers' build inside a root.
Building and booting them is tests/integration/runner-release.sh."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

TOP = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(TOP, "scripts"))
from sblib.measuring import roots  # noqa: E402


def deps(*args):
    r = subprocess.run([os.path.join(TOP, "scripts", "deps"), *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return r.returncode, r.stdout.split()


class Lists(unittest.TestCase):
    def test_each_release_names_its_own_libraries(self):
        rc, bookworm = deps("--host-list")
        self.assertEqual((rc, deps("--host-list", "bookworm")[1]), (0, bookworm))
        self.assertIn("libssl3", bookworm)
        self.assertIn("liburing2", bookworm)
        _, bullseye = deps("--host-list", "bullseye")
        self.assertIn("libssl1.1", bullseye)
        self.assertIn("liburing1", bullseye)
        self.assertNotIn("libssl3", bullseye)
        self.assertEqual(len(bullseye), len(bookworm))
        self.assertEqual(roots.packages("trixie", "build")[:len(bookworm)], bookworm)
        self.assertIn("libssl-dev", roots.packages("trixie", "build"))
        self.assertEqual(deps("--host-list", "sid")[0], 2)

    def test_every_release_has_a_list(self):
        for r in roots.RELEASES:
            self.assertEqual(deps("--host-list", r)[0], 0, r)


class Names(unittest.TestCase):
    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="sb-roots-")
        self.patch = mock.patch.object(roots, "CACHE", self.cache)
        self.patch.start()

    def tearDown(self):
        self.patch.stop()
        shutil.rmtree(self.cache)

    def test_a_root_is_its_release_and_list(self):
        a = roots.path_of("bookworm", ["x", "y"])
        self.assertEqual(a, roots.path_of("bookworm", ["y", "x"]))
        self.assertNotEqual(a, roots.path_of("bookworm", ["x"]))
        self.assertNotEqual(a, roots.path_of("trixie", ["x", "y"]))
        self.assertRegex(os.path.basename(roots.path_of("trixie", ["x"], "build")),
                         r"^trixie-build-[0-9a-f]{12}$")

    def test_release_of_a_root(self):
        for rel in roots.RELEASES:
            for kind in ("host", "build"):
                self.assertEqual(roots.release_of(roots.path_of(rel, ["p"], kind)), rel)
        mine = tempfile.mkdtemp(dir=self.cache)
        self.assertIsNone(roots.release_of(mine))
        os.makedirs(os.path.join(mine, "etc"))
        with open(os.path.join(mine, roots.MARKER), "w") as f:
            f.write("bullseye\n")
        self.assertEqual(roots.release_of(mine), "bullseye")
        self.assertIsNone(roots.release_of("/elsewhere/trixie-0123456789ab"))

    def test_prune_bins_keeps_the_newest_builds(self):
        d = os.path.join(self.cache, "bins")
        names = [f"trixie-1234abcd-{k:012x}" for k in range(7)] + ["bookworm-1234abcd-0"]
        for k, n in enumerate(names):
            os.makedirs(os.path.join(d, n))
            os.utime(os.path.join(d, n), (k, k))
        roots._prune_bins(names[0])      # just built, but the oldest mtime here
        self.assertEqual(sorted(os.listdir(d)), sorted([names[0]] + names[4:]))

    def test_prune_keeps_other_releases_and_kinds(self):
        names = ["bookworm-aaaaaaaaaaaa", "bookworm-bbbbbbbbbbbb", "bookworm-backports-cccccccccccc",
                 "bookworm-build-dddddddddddd", "trixie-eeeeeeeeeeee"]
        for n in names:
            os.makedirs(os.path.join(self.cache, n))
        roots.prune("bookworm", os.path.join(self.cache, names[1]), log=lambda m: None)
        self.assertEqual(sorted(os.listdir(self.cache)), sorted(names[1:]))


class Commands(unittest.TestCase):
    def test_backports_pins_systemd_from_backports(self):
        argv = roots.mmdebstrap_argv("bookworm-backports", ["systemd", "nginx"], "/d")
        self.assertIn("--include=systemd,nginx", argv)
        i = argv.index("/d")
        self.assertEqual(argv[i - 1], "bookworm")
        self.assertIn(f"deb {roots.MIRROR} bookworm-backports main", argv[i + 1:])
        hook = argv[argv.index("--setup-hook") + 1]
        self.assertIn("Pin: release n=bookworm-backports", hook)
        self.assertIn("Package: systemd ", hook)
        self.assertEqual(roots.mmdebstrap_argv("bullseye", ["a"], "/d")[-2:], ["bullseye", "/d"])

    def test_the_build_runs_in_the_root_without_network(self):
        argv = roots.build_argv("/r", "/o", "v1")
        self.assertEqual(argv[argv.index("-D") + 1], "/r")
        self.assertIn("--private-network", argv)
        self.assertIn("--bind=/o:/out", argv)
        self.assertIn("--volatile=overlay", argv)
        sh = argv[-1]
        for p in roots.IN_ROOT:
            self.assertIn(f"/out/bin/{p}", sh)
        self.assertIn("VERSION=v1", sh)
        self.assertIn("DEPS=true", sh)

    def test_source_digest_follows_the_sources(self):
        top = tempfile.mkdtemp(prefix="sb-src-")
        try:
            for d in roots.SERVER_SOURCES:
                p = os.path.join(top, d)
                if d == "Makefile":
                    open(p, "w").close()
                else:
                    os.makedirs(p)
                    with open(os.path.join(p, "a.c"), "w") as f:
                        f.write("int a;\n")
            one = roots.source_digest(top)
            self.assertEqual(one, roots.source_digest(top))
            with open(os.path.join(top, "servers", "a.c"), "a") as f:
                f.write("int b;\n")
            self.assertNotEqual(one, roots.source_digest(top))
        finally:
            shutil.rmtree(top)

    def test_a_users_root_without_a_compiler_runs_this_machines_build(self):
        d = tempfile.mkdtemp(prefix="sb-userroot-")
        try:
            path, why = roots.servers(d)
            self.assertIsNone(path)
            self.assertIn("this machine's build", why)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
