"""sandbench advise's pure parts: the capability search, the choice among
alternative values, public services, the drop-in it writes."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sblib import catalogue as cat  # noqa: E402
from sblib import advice as advise  # noqa: E402


class TestCaps(unittest.TestCase):
    def search(self, need):
        tried = []

        def ok(keep):
            tried.append(list(keep))
            return set(need) <= set(keep)
        got, tries = advise.find_caps(ok)
        self.assertEqual(tries, len(tried))
        return got, tries

    def test_finds_exactly_what_is_needed(self):
        for need in ([], ["CAP_NET_BIND_SERVICE"], ["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"],
                     ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]):
            got, tries = self.search(need)
            self.assertEqual(sorted(got), sorted(need))
            # halving: far fewer tries than one per capability for a few needed
            self.assertLess(tries, 1 + len(need) * 2 * 6 + 2)

    def test_all_needed(self):
        got, _ = self.search(advise.CAPS)
        self.assertEqual(got, advise.CAPS)

    def test_body_resets_then_allows(self):
        b = advise.caps_body(["CAP_SETUID"])
        self.assertEqual(b.splitlines()[1:], ["CapabilityBoundingSet=",
                                              "CapabilityBoundingSet=CAP_SETUID"])
        self.assertEqual(advise.caps_body([]).splitlines()[1:], ["CapabilityBoundingSet="])


class TestChoice(unittest.TestCase):
    def d(self, name):
        return cat.load_directive(name)

    def test_strongest_alternative_wins(self):
        tol = [(self.d("protect-system-full"), 9.0), (self.d("protect-system-strict"), 8.8),
               (self.d("private-tmp-yes"), 9.4)]
        names, beaten = advise.choose(tol)
        self.assertEqual(sorted(names), ["private-tmp-yes", "protect-system-strict"])
        self.assertIn("removes more exposure", beaten.pop("protect-system-full"))
        self.assertEqual(beaten, {})
        # the same exposure: the stronger value, whichever came first
        names, beaten = advise.choose([(self.d("protect-system-full"), 9.0),
                                       (self.d("protect-system-strict"), 9.0)])
        self.assertEqual(names, ["protect-system-strict"])
        self.assertIn("stronger value", beaten["protect-system-full"])

    def test_additive_settings_stack(self):
        tol = [(self.d("system-call-filter-system-service"), 9.0),
               (self.d("system-call-filter-deny-clock"), 9.2),
               (self.d("system-call-filter-deny-mount"), 9.2)]
        names, beaten = advise.choose(tol)
        self.assertEqual(len(names), 3)
        self.assertEqual(beaten, {})

    def test_public_cut(self):
        deny = self.d("ip-address-deny-any-allow-localhost")
        pn = self.d("private-network-yes")
        self.assertIn("cuts a public service", advise.public_cut(deny, True, True))
        self.assertIsNone(advise.public_cut(deny, False, False))
        self.assertIn("cuts", advise.public_cut(pn, True, False))
        self.assertIsNone(advise.public_cut(pn, True, True))
        self.assertIsNone(advise.public_cut(self.d("private-tmp-yes"), True, False))

    def test_every_client_cutting_directive_says_so(self):
        for n in ("ip-address-deny-any", "ip-address-deny-any-allow-localhost",
                  "private-network-yes", "restrict-address-families-unix"):
            self.assertTrue(self.d(n).get("public"), n)


class TestCost(unittest.TestCase):
    def test_no_interval_below_min_n(self):
        row = {"cpu_ns_per_req_change": 0.63, "cpu_ns_per_req_lo": 0.63,
               "cpu_ns_per_req_hi": 0.63, "cpu_ns_per_req_n": 1}
        self.assertEqual(advise.interval(row), (0.63, None, None))
        self.assertIn("n=1, no interval", advise.fmt_cost(row))
        row.update(cpu_ns_per_req_n=6, cpu_ns_per_req_lo=0.01, cpu_ns_per_req_hi=0.05)
        self.assertEqual(advise.interval(row), (0.63, 0.01, 0.05))
        self.assertEqual(advise.fmt_cost(row), "+63.0% CPU/request [+1.0%, +5.0%]")
        self.assertIsNone(advise.fmt_cost(None))


class TestReadOnly(unittest.TestCase):
    def test_paths_of_read_only_writes(self):
        r = ('2026/12/02 07:45:47 [emerg] 227#227: open() "/run/nginx.pid" failed '
             '(30: Read-only file system) | nginx: configuration file /etc/nginx/nginx.conf '
             'test failed')
        self.assertEqual(advise.readonly_paths(r), ["/run/nginx.pid"])
        self.assertEqual(advise.readonly_paths("mkdir /var/lib/x: Read-only file system"),
                         ["/var/lib/x"])
        self.assertEqual(advise.readonly_paths("open() \"/etc/x\" failed (2: No such file)"), [])

    def test_every_kind_of_failed_write(self):
        # nginx whose temp dirs belong to another user chowns them at every start
        r = ('nginx: [emerg] chown("/var/lib/nginx/fastcgi", 33) failed (30: Read-only file '
             'system) | rename "/var/log/app/a.log" failed: Read-only file system'
             ' | mkdir(/srv/x/y): EROFS')
        self.assertEqual(advise.readonly_paths(r),
                         ["/var/lib/nginx/fastcgi", "/var/log/app/a.log", "/srv/x/y"])

    def test_fewest_paths(self):
        self.assertEqual(advise.rw_paths(["/var/lib/nginx/body", "/var/lib/nginx/fastcgi"]),
                         ["/var/lib/nginx"])
        self.assertEqual(advise.rw_paths(["/var/lib/nginx/body", "/var/lib/nginx/fastcgi",
                                          "/run"]), ["/run", "/var/lib/nginx"])
        # never wider than a service's own directory
        self.assertEqual(advise.rw_paths(["/var/lib/a", "/var/lib/b"]), ["/var/lib/a", "/var/lib/b"])
        self.assertEqual(advise.rw_paths(["/run/a", "/run"]), ["/run"])
        self.assertEqual(advise.rw_paths(["/var/lib/x/a/b", "/var/lib/x/a/c", "/var/lib/x/d"]),
                         ["/var/lib/x"])


class TestProfileCaps(unittest.TestCase):
    def test_sets(self):
        self.assertEqual(advise.allowed_caps("[Service]\nCapabilityBoundingSet=\n"), set())
        self.assertEqual(advise.allowed_caps("[Service]\nCapabilityBoundingSet=\n"
                                             "CapabilityBoundingSet=CAP_A CAP_B\n"),
                         {"CAP_A", "CAP_B"})
        self.assertEqual(len(advise.allowed_caps("CapabilityBoundingSet=~CAP_CHOWN")),
                         len(advise.CAPS) - 1)
        self.assertIsNone(advise.allowed_caps("[Service]\nPrivateTmp=yes\n"))

    def test_nearest_catalogue_set(self):
        self.assertEqual(advise.profile_caps([]), "capability-bounding-set-empty")
        self.assertEqual(advise.profile_caps(["CAP_SETUID", "CAP_SETGID"]),
                         "capability-bounding-set-drop-only")


class TestPublic(unittest.TestCase):
    def test_listeners(self):
        ss = ("LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\nLISTEN 0 511 [::]:80 [::]:*\n"
              "LISTEN 0 4096 127.0.0.1:8443 0.0.0.0:*\n")
        got = advise.listeners(ss)
        self.assertEqual(got, {"0.0.0.0:80", "[::]:80", "127.0.0.1:8443"})
        self.assertTrue(advise.is_public(got)[0])
        pub, why = advise.is_public({"127.0.0.1:8443", "[::1]:8443"})
        self.assertFalse(pub)
        self.assertIn("loopback only", why)
        self.assertTrue(advise.is_public(set())[0])


class TestDropin(unittest.TestCase):
    def test_lines_and_comments(self):
        info = {"private-tmp-yes": {"does": "PrivateTmp=yes",
                                    "body": cat.load_directive("private-tmp-yes")["body"],
                                    "cost": "+0.3% CPU/request [-0.5%, +1.1%]",
                                    "in_force": "mntns differs"},
                advise.CAPS_NAME: {"does": "CapabilityBoundingSet=(empty)",
                                   "body": advise.caps_body([])}}
        text = advise.dropin_text(["private-tmp-yes", advise.CAPS_NAME], info, "web.service")
        lines = text.splitlines()
        self.assertIn("[Service]", lines)
        self.assertIn("PrivateTmp=yes", lines)
        self.assertIn("CapabilityBoundingSet=", lines)
        self.assertNotIn("[Service]", lines[lines.index("[Service]") + 1:])
        self.assertTrue(any("cost +0.3%" in ln for ln in lines))
        self.assertEqual(advise.keys_of(text), ["PrivateTmp", "CapabilityBoundingSet"])


if __name__ == "__main__":
    unittest.main()
