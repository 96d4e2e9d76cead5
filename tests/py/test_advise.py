"""sandbench advise's pure parts: the capability search, the choice among
alternative values, public services, the drop-in it writes; and its
--check, run for real (sh, a process group, a network namespace)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sblib import catalogue as cat  # noqa: E402
from sblib import advice as advise  # noqa: E402
from sblib.measuring import tries  # noqa: E402


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


class TestCheckText(unittest.TestCase):
    def test_reason_says_how_it_ended_and_its_last_line(self):
        self.assertEqual(advise.check_reason({"exit": 3, "output": "a\nno marker"}),
                         "the check exited 3: no marker")
        self.assertEqual(advise.check_reason({"exit": 1, "output": ""}),
                         "the check exited 1 (no output)")
        self.assertIn("timed out after 2.5 s", advise.check_reason(
            {"exit": None, "timed_out": True, "timeout_s": 2.5, "output": "x"}))
        self.assertIn("killed by signal 9", advise.check_reason({"exit": -9, "output": ""}))
        self.assertEqual(advise.KIND["check"], "fails the check")

    def test_tail(self):
        text = "".join(f"line {i}\n" for i in range(30)) + "\n\n"
        self.assertEqual(advise.tail_lines(text, 20).splitlines(),
                         [f"line {i}" for i in range(10, 30)])
        self.assertEqual(advise.tail_lines("  \n", 20), "")
        self.assertEqual(advise.tail_lines("x" * 1000 + "\nend", 5, width=10),
                         "x" * 10 + "…\nend")

    def test_markdown_shows_the_output_of_each_rejected_try(self):
        ck = {"try": "private-tmp-yes", "exit": 3, "timed_out": False,
              "output": "GET /marker: 404\n| ``` # not markdown"}
        r = {"exposure": {"before": 9.6, "after": 8.0}, "public": {"public": True, "why": "x"},
             "budget_pct": 5, "members": [], "info": {}, "tries": 6, "systemd": "systemd 252",
             "elapsed_s": 10, "cost": {"skipped": "--no-cost"},
             "rejected": {"private-tmp-yes": {"kind": "fails the check",
                                              "reason": advise.check_reason(ck), "check": ck},
                          "private-users-yes": {"kind": "fails", "reason": "boom"}},
             "check": {"command": "sh `pwd`/check.sh", "timeout_s": 30, "runs": 5,
                       "failed": 1}}
        md = advise.markdown("web.service", r)
        self.assertIn("| `private-tmp-yes` | fails the check | the check exited 3: \\| ```", md)
        self.assertIn("## The acceptance check (--check)", md)
        self.assertIn("`` sh `pwd`/check.sh ``", md)
        self.assertIn("5 runs, 1 failed", md)
        self.assertIn("### `private-tmp-yes` (try `private-tmp-yes`, exit 3)", md)
        # the output as an indented block: nothing in it is read as markdown
        self.assertIn("\n    GET /marker: 404\n    | ``` # not markdown\n", md)
        self.assertNotIn("### `private-users-yes`", md)
        del r["check"]
        self.assertNotIn("acceptance check", advise.markdown("web.service", r))

    def test_markdown_of_advice_whose_cost_run_is_under_way(self):
        r = {"exposure": {"before": 9.6, "after": 7.1}, "public": {"public": True, "why": "x"},
             "budget_pct": 5, "members": [], "info": {}, "rejected": {}, "tries": 3,
             "systemd": "systemd 252", "elapsed_s": 10,
             "cost": {"pending": "the cost run was under way; advise again with the same "
                                 "options and --out goes on with it"}}
        self.assertIn("Cost: not measured yet (the cost run was under way; advise again",
                      advise.markdown("web.service", r))


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class TestRunCheck(unittest.TestCase):
    """tries.run_check runs the user's command for real."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sbcheck-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_check(self, cmd, timeout=10.0, netns=None, name="private-tmp-yes"):
        return tries.run_check(cmd, "http://127.0.0.1:18447/", name, netns, timeout, self.dir)

    def test_environment_directory_and_exit(self):
        c = self.run_check('echo "$SANDBENCH_TRY $SANDBENCH_URL $(pwd)"; echo oops >&2; exit 4')
        self.assertEqual(c["exit"], 4)
        self.assertFalse(c["timed_out"])
        self.assertEqual(c["try"], "private-tmp-yes")
        self.assertEqual(c["output"].splitlines(), [
            f"private-tmp-yes http://127.0.0.1:18447/ {os.path.realpath(self.dir)}", "oops"])
        self.assertEqual(self.run_check("true")["exit"], 0)
        self.assertEqual(self.run_check("kill -9 $$")["exit"], -9)

    def test_last_lines_only(self):
        c = self.run_check("seq 1 5000; exit 1")
        self.assertEqual(c["output"].splitlines(), [str(i) for i in range(4981, 5001)])

    def test_timeout_ends_its_process_group(self):
        pidfile = os.path.join(self.dir, "pid")
        t0 = time.monotonic()
        c = self.run_check(f"echo started; sleep 60 & echo $! > {pidfile}; wait", timeout=0.5)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(c["timed_out"])
        self.assertIsNone(c["exit"])
        self.assertEqual(c["output"], "started")
        self.assertIn("timed out after 0.5 s", advise.check_reason(c))
        with open(pidfile) as f:
            pid = int(f.read())
        # a signal is delivered when the process next runs: on a busy
        # machine a moment after killpg returned
        end = time.monotonic() + 2
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.01)
        self.assertFalse(alive(pid), "the check's background sleep outlived it")

    def test_what_it_leaves_running_is_ended(self):
        pidfile = os.path.join(self.dir, "pid")
        c = self.run_check(f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; exit 0")
        self.assertEqual(c["exit"], 0)
        with open(pidfile) as f:
            pid = int(f.read())
        for _ in range(50):
            if not alive(pid):
                break
            time.sleep(0.05)
        self.assertFalse(alive(pid))

    def test_cannot_start(self):
        with self.assertRaises(tries._host.HostError) as e:
            tries.run_check("true", "http://x/", "t", None, 5, os.path.join(self.dir, "gone"))
        self.assertIn("cannot run the check", str(e.exception))

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "needs root and unshare(1) for a network namespace")
    def test_runs_inside_the_given_network_namespace(self):
        p = subprocess.Popen(["unshare", "--net", "sleep", "30"])
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        ns = f"/proc/{p.pid}/ns/net"
        for _ in range(100):        # unshare(1) has made it once the link differs
            if os.readlink(ns) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.02)
        want = os.readlink(ns)
        self.assertNotEqual(want, os.readlink("/proc/self/ns/net"))
        c = self.run_check("readlink /proc/self/ns/net", netns=ns)
        self.assertEqual((c["exit"], c["output"]), (0, want))
        # and this process is back in its own
        self.assertNotEqual(os.readlink("/proc/self/ns/net"), want)
        c = self.run_check("readlink /proc/self/ns/net")
        self.assertEqual(c["output"], os.readlink("/proc/self/ns/net"))


if __name__ == "__main__":
    unittest.main()
