"""Clean roots per release (sblib.measuring.roots): their package lists and
names, the mmdebstrap command of each release, which release a root is,
which old roots a new one replaces, and the servers' build inside a root;
roots with packages of the user's (--install): the names taken, the cache
key (release and the sorted list), the plain root where it holds them all,
which are pruned, apt's word for a package a release does not have, and
the options that go with it. Building and booting them is
tests/integration/runner-release.sh."""
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

TOP = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(TOP, "scripts"))
from sblib.measuring import host, releases, roots  # noqa: E402


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


HOST_LIST = ["systemd", "dbus", "nginx"]


class Install(unittest.TestCase):
    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="sb-roots-")
        for p in (mock.patch.object(roots, "CACHE", self.cache),
                  mock.patch.object(roots, "packages", lambda rel, kind="host": list(HOST_LIST))):
            p.start()
            self.addCleanup(p.stop)
        self.addCleanup(shutil.rmtree, self.cache)

    def test_names_parsed_sorted_and_checked(self):
        self.assertEqual(releases.parse_install(["nginx,apache2", " darkhttpd", "nginx"]),
                         ["apache2", "darkhttpd", "nginx"])
        self.assertEqual(releases.parse_install(None), [])
        self.assertEqual(releases.parse_install(["libstdc++6,g++-12"]), ["g++-12", "libstdc++6"])
        for bad in ("Nginx", "ngin*", "a", "nginx=1.2", "../x", "nginx,"):
            with self.assertRaises(ValueError, msg=bad):
                releases.parse_install([bad])

    def test_the_cache_key_is_release_and_sorted_list(self):
        pkgs, a = roots.with_packages("trixie", ["darkhttpd", "apache2"])
        self.assertEqual(pkgs, HOST_LIST + ["apache2", "darkhttpd"])
        self.assertEqual(a, roots.with_packages("trixie", ["apache2", "darkhttpd", "apache2"])[1])
        self.assertNotEqual(a, roots.with_packages("trixie", ["apache2"])[1])
        self.assertNotEqual(a, roots.with_packages("bookworm", ["apache2", "darkhttpd"])[1])
        self.assertRegex(os.path.basename(a), r"^trixie-with-[0-9a-f]{12}$")
        self.assertEqual(roots.release_of(a), "trixie")
        self.assertEqual(roots.release_of(roots.with_packages("bookworm-backports", ["x1"])[1]),
                         "bookworm-backports")

    def test_a_cached_root_is_used_and_one_holding_them_all_is_the_hosts(self):
        plain = roots.path_of("trixie", HOST_LIST)
        _, mine = roots.with_packages("trixie", ["darkhttpd"])
        for p in (plain, mine):
            os.makedirs(os.path.join(p, "usr"))
            os.makedirs(os.path.join(p, "etc"))
        with mock.patch.object(roots, "_build", side_effect=AssertionError("built")):
            self.assertEqual(roots.ensure("trixie", install=["darkhttpd"]), mine)
            self.assertEqual(roots.ensure("trixie", install=["nginx"]), plain)
            self.assertEqual(roots.ensure("trixie"), plain)

    def test_a_package_the_release_lacks_is_named(self):
        out = ("Reading package lists...\nE: Unable to locate package nginx-xyz\n"
               "E: Package 'exim' has no installation candidate\n"
               "E: Couldn't find any package by regex 'a.b'\n"
               "E: Unable to locate package nginx-xyz\nE: setup failed: ...")
        self.assertEqual(roots.missing_packages(out), ["nginx-xyz", "exim", "a.b"])
        self.assertEqual(roots.missing_packages("E: mmdebstrap failed to run"), [])

        def fail(argv, tmp, what, timeout):
            self.assertNotIn("--quiet", argv)      # apt's E: lines go with it
            e = roots.RootError("mmdebstrap failed (exit 1)")
            e.output = out
            raise e
        with mock.patch.object(roots, "_build", fail), \
                mock.patch.object(roots.shutil, "which", lambda t: "/usr/bin/" + t):
            with self.assertRaisesRegex(roots.RootError, "bullseye has no package nginx-xyz, "
                                                         "exim, a.b"):
                roots.ensure("bullseye", install=["nginx-xyz"], log=lambda m: None)
        self.assertEqual([n for n in os.listdir(self.cache) if "with" in n], [])

    def test_built_roots_name_their_packages_and_the_least_used_go(self):
        d = tempfile.mkdtemp(dir=self.cache)
        os.makedirs(os.path.join(d, "etc"))
        roots._mark(d, "trixie", ["b", "a"])
        self.assertEqual(roots.installed_of(d), ["a", "b"])
        self.assertEqual(roots.installed_of(self.cache), [])
        names = [f"trixie-with-{k:012x}" for k in range(6)] + ["bookworm-with-000000000000",
                                                              "trixie-000000000000"]
        for k, n in enumerate(names):
            os.makedirs(os.path.join(self.cache, n))
            os.utime(os.path.join(self.cache, n), (k, k))
        roots.prune_with("trixie", os.path.join(self.cache, names[0]), log=lambda m: None)
        left = sorted(n for n in os.listdir(self.cache) if n in names)
        self.assertEqual(left, sorted([names[0]] + names[3:]))

    def test_options_that_go_together(self):
        def opts(**kw):
            return types.SimpleNamespace(**{"install": None, "release": None, "root": None,
                                            "upgrade": None, "show": None, **kw})
        self.assertEqual(releases.check_options(opts(install=["x1,y1"], release="trixie")),
                         ["x1", "y1"])
        self.assertEqual(releases.check_options(opts(install=["x1"], upgrade="a,b")), ["x1"])
        for bad in (opts(install=["x1"]), opts(install=["x1"], release="trixie", root="/r"),
                    opts(install=["X"], release="trixie")):
            with self.assertRaises(ValueError):
                releases.check_options(bad)
        self.assertEqual(releases.host_args(opts(release="trixie", install=["x1"],
                                                 show=["/etc/x"])),
                         {"root": None, "release": "trixie", "install": ["x1"],
                          "show": ["/etc/x"]})
        with self.assertRaises(host.HostError):
            releases.host_args(opts(install=["x1"]))
        with self.assertRaisesRegex(host.HostError, "--install builds a root of a release"):
            host.host_root(install=["x1"])


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
