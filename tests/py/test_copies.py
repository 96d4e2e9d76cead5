"""Copies of a user's unit side by side in network namespaces of their own
(sblib.measuring.copies): which units and variants can be copied, which pid
files are made the copy's own and when read-only, the drop-ins, the plan's
decision, the units written and loadgen's --netns. No root, no systemd."""
import argparse
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib import catalogue as cat  # noqa: E402
from sblib.measuring import copies, runplan  # noqa: E402
from sblib.measuring.instances import Instances, unit_texts  # noqa: E402
from sblib.measuring.load import Loader  # noqa: E402

# Debian 12's /lib/systemd/system/nginx.service and lighttpd.service (trimmed)
NGINX = """[Unit]
Description=A high performance web server and a reverse proxy server
[Service]
Type=forking
PIDFile=/run/nginx.pid
ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'
ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'
ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload
ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid
TimeoutStopSec=5
KillMode=mixed
"""
LIGHTTPD = """[Service]
Type=simple
PIDFile=/run/lighttpd.pid
ExecStartPre=/usr/sbin/lighttpd -tt -f /etc/lighttpd/lighttpd.conf
ExecStart=/usr/sbin/lighttpd -D -f /etc/lighttpd/lighttpd.conf
ExecReload=/bin/kill -USR1 $MAINPID
Restart=on-failure
"""
STRICT = "[Service]\nProtectSystem=strict\n"


class FakeHost:
    def path(self, p):
        return "/proc/42/root" + p


class TestRules(unittest.TestCase):
    def test_why_not(self):
        self.assertIsNone(copies.why_not({"nginx.service": NGINX}))
        self.assertIn("PrivateNetwork=yes",
                      copies.why_not({"x.service": "[Service]\nPrivateNetwork=yes\n"}))
        self.assertIn("NetworkNamespacePath",
                      copies.why_not({"x.socket": "[Socket]\nNetworkNamespacePath=/run/netns/a\n"}))
        self.assertIsNone(copies.why_not({"x.service": "[Service]\nPrivateNetwork=no\n"}))

    def test_variant_refused(self):
        self.assertIn("no effect", copies.variant_refused(["[Service]\nPrivateNetwork=yes\n"]))
        # socket-activated: the socket in the copy's namespace, the service in its own
        self.assertIsNone(copies.variant_refused(["[Service]\nPrivateNetwork=yes\n"], True))
        self.assertIsNotNone(copies.variant_refused(
            ["[Service]\nNetworkNamespacePath=/run/netns/x\n"], True))
        out = copies.dropins(["web-sb1.socket", "web-sb1.service"], "web-sb1.service", "sb1",
                             [], ["[Service]\nPrivateNetwork=yes\n"])
        self.assertEqual(list(out), ["web-sb1.socket.d/40-sandbench-netns.conf"])
        for ok in ("[Service]\nIPAddressDeny=any\n",
                   "[Service]\nRestrictAddressFamilies=AF_UNIX\n", STRICT):
            self.assertIsNone(copies.variant_refused([ok]), ok)
        # the catalogue's own
        self.assertIsNotNone(copies.variant_refused(
            [cat.load_directive("private-network-yes")["body"]]))
        self.assertIsNone(copies.variant_refused(
            [cat.load_directive("ip-address-deny-any-allow-localhost")["body"]]))

    def test_pid_files(self):
        self.assertEqual(copies.pid_files(NGINX), ["/run/nginx.pid"])
        # systemd reads PIDFile= of a simple service too: lighttpd's copies each
        # get their own
        self.assertEqual(copies.pid_files(LIGHTTPD), ["/run/lighttpd.pid"])
        self.assertEqual(copies.pid_files("[Service]\nExecStart=/x\n"), [])
        self.assertEqual(copies.pid_files("[Service]\nPIDFile=run/x.pid\n"), [])
        # a pid file only the Exec lines name (no PIDFile=)
        self.assertEqual(copies.pid_files(
            "[Service]\nExecStart=/x\nExecStop=/sbin/start-stop-daemon "
            "--stop --pidfile /run/x.pid\n"), ["/run/x.pid"])
        self.assertEqual(copies.pid_files(
            "[Service]\nPIDFile=/run/x.pid\nExecStop=/sbin/start-stop-daemon "
            "--stop --pidfile /run/x.pid\n"), ["/run/x.pid"])

    def test_pid_writable(self):
        p = "/run/nginx.pid"
        self.assertTrue(copies.pid_writable([], p))
        self.assertTrue(copies.pid_writable(["[Service]\nProtectSystem=full\n"], p))
        self.assertFalse(copies.pid_writable([STRICT], p))
        self.assertTrue(copies.pid_writable([STRICT, "[Service]\nReadWritePaths=/run /var\n"], p))
        self.assertTrue(copies.pid_writable(
            ["[Service]\nProtectSystem=strict\nReadWritePaths=-/run/nginx.pid\n"], p))
        self.assertFalse(copies.pid_writable(["[Service]\nReadOnlyPaths=/run\n"], p))
        self.assertFalse(copies.pid_writable(["[Service]\nProtectSystem=strict\n"
                                              "ReadWritePaths=/running\n"], p))

    def test_dropins(self):
        out = copies.dropins(["web-sb3.socket", "web-sb3.service"], "web-sb3.service", "sb3",
                             [], [])
        self.assertEqual(out["web-sb3.socket.d/40-sandbench-netns.conf"].splitlines()[1:],
                         ["[Socket]", "NetworkNamespacePath=/run/netns/sandbench-sb3"])
        self.assertIn("[Service]\nNetworkNamespacePath=/run/netns/sandbench-sb3",
                      out["web-sb3.service.d/40-sandbench-netns.conf"])
        out = copies.dropins(["nginx-sb0.service"], "nginx-sb0.service", "sb0",
                             ["/run/nginx.pid"], [])
        pid = out["nginx-sb0.service.d/40-sandbench-pidfile.conf"]
        self.assertIn("BindPaths=/run/sandbench/copies/sb0/run_nginx.pid:/run/nginx.pid", pid)
        self.assertIn("PIDFile=/run/sandbench/copies/sb0/run_nginx.pid", pid)
        out = copies.dropins(["nginx-sb0.service"], "nginx-sb0.service", "sb0",
                             ["/run/nginx.pid"], [STRICT])
        # read-only under the variant: no bind, the copy fails on the host's file
        self.assertNotIn("Bind", out["nginx-sb0.service.d/40-sandbench-pidfile.conf"])

    def test_addresses(self):
        self.assertIsNone(copies.extra_address("https://127.0.0.1:443/"))
        self.assertIsNone(copies.extra_address("https://[::1]:443/"))
        self.assertIsNone(copies.extra_address("https://localhost/"))
        self.assertEqual(copies.extra_address("https://192.0.2.7:8443/x"), "192.0.2.7")
        self.assertEqual(copies.setup_argv("sb1", "https://127.0.0.1/"),
                         [["ip", "netns", "add", "sandbench-sb1"],
                          ["ip", "-n", "sandbench-sb1", "link", "set", "lo", "up"]])
        self.assertEqual(copies.setup_argv("sb1", "https://[2001:db8::5]:443/")[-1],
                         ["ip", "-n", "sandbench-sb1", "addr", "add", "2001:db8::5/128",
                          "dev", "lo"])

    def test_entered_none_is_a_no_op(self):
        with copies.entered(None):
            pass


class TestPlan(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-copies-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def unit(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def plan(self, *extra, text=NGINX):
        u = self.unit("nginx.service", text)
        return runplan.build_plan(runplan.parse(
            ["--unit", u, "--url", "https://127.0.0.1:18446/", "--directives",
             "private-tmp-yes,private-network-yes", "--seed", "1", "--copies", "netns", *extra]))

    def test_fixed_port_runs_side_by_side_in_windows(self):
        spec = self.plan()
        uu = spec["user_unit"]
        self.assertEqual((uu["copies"], uu["side"]), ("netns", True))
        self.assertNotIn("copies_why", uu)
        self.assertEqual(spec["duet"]["servers"], ["unit"])
        self.assertEqual(spec["url"], "https://127.0.0.1:18446/")

    def test_ports_as_before(self):
        spec = self.plan("--copies", "ports")
        uu = spec["user_unit"]
        self.assertEqual((uu["copies"], uu["side"]), ("one at a time", False))
        self.assertIn("one at a time", uu["copies_why"])
        self.assertEqual(spec["duet"]["servers"], [])

    def test_a_unit_with_its_own_namespace_falls_back(self):
        spec = self.plan(text=NGINX + "PrivateNetwork=yes\n")
        uu = spec["user_unit"]
        self.assertEqual((uu["copies"], uu["side"]), ("one at a time", False))
        self.assertIn("PrivateNetwork=yes", uu["copies_why"])
        self.assertIn("one at a time", uu["copies_why"])

    def instances(self, spec):
        a = argparse.Namespace(url=spec["url"], path="/", server_cpu=1, start_timeout=5)
        fleet = Instances(a, spec, FakeHost(), {}, lambda *_: None, lambda *_: None)
        sspec = fleet.server_spec("unit")
        return fleet, sspec, [fleet.make_instance(sspec, v, i)
                              for i, v in enumerate(spec["variants"])]

    def test_instances_and_their_units(self):
        spec = self.plan()
        fleet, sspec, insts = self.instances(spec)
        for i in insts:
            self.assertEqual((i.url, i.port), ("https://127.0.0.1:18446/", 18446))
            self.assertEqual(i.netns, f"/run/netns/sandbench-{i.tag}")
            self.assertEqual(i.netns_file, f"/proc/42/root/run/netns/sandbench-{i.tag}")
        byid = {i.id: i for i in insts}
        self.assertIsNone(fleet.unsupported(byid["unit/private-tmp-yes"].v))
        self.assertIn("no effect", fleet.unsupported(byid["unit/private-network-yes"].v))
        inst = byid["unit/private-tmp-yes"]
        texts = unit_texts(inst, fleet.sources(sspec), None)
        name = inst.target
        self.assertTrue(name.startswith("nginx-sb") and name.endswith(".service"), name)
        self.assertEqual(texts[name], NGINX)          # as written: port, pid file
        self.assertIn(f"{name}.d/40-sandbench-netns.conf", texts)
        self.assertIn("BindPaths=", texts[f"{name}.d/40-sandbench-pidfile.conf"])
        self.assertEqual(inst.pid_files, ["/run/nginx.pid"])
        # the old way: a copy of its own port is not possible, one at a time
        spec = self.plan("--copies", "ports")
        _, _, insts = self.instances(spec)
        self.assertTrue(all(i.netns is None and i.netns_file is None for i in insts))

    def test_private_network_judged_against_its_copy(self):
        u = self.unit("web.socket", "[Socket]\nListenStream=127.0.0.1:18446\n")
        s = self.unit("web.service", "[Service]\nExecStart=/bin/true\n")
        spec = runplan.build_plan(runplan.parse(
            ["--unit", u, "--unit", s, "--url", "https://127.0.0.1:18446/",
             "--directives", "private-network-yes", "--seed", "1", "--copies", "netns"]))
        fleet, _, insts = self.instances(spec)
        base = insts[0]
        inst = [i for i in insts if i.id == "unit/private-network-yes"][0]
        self.assertIsNone(fleet.unsupported(inst.v))
        base.evidence = {"net_ns": "net:[1]", "net_ns_differs": True}
        base.exposure_checks = []
        inst.netns_id = "net:[2]"
        for ns, want in (("net:[3]", True), ("net:[2]", False)):
            inst.evidence = {"net_ns": ns, "net_ns_differs": True}
            fleet.judge(inst, base)
            self.assertIs(inst.applied["private-network-yes"], want,
                          inst.applied_why["private-network-yes"])

    def test_window_loads_each_in_its_namespace(self):
        spec = self.plan()
        _, _, insts = self.instances(spec)
        for i in insts:
            i.cpu_dirs_cached = [f"/cg/{i.tag}"]
            i.cpu_units = [i.target]
        a = runplan.parse(["--loadgen-cpu", "0"])
        lg = Loader(a, spec, None, "lg")
        seen = {}

        def fake(argv, limit):
            seen["argv"] = argv
            return None, "not run"
        lg.run_loadgen = fake
        lg.window(insts[:2], "keepalive", 0, 0, 0)
        argv = seen["argv"]
        self.assertEqual(argv[argv.index("--netns") + 1],
                         f"{insts[0].netns_file},{insts[1].netns_file}")
        self.assertEqual(argv[-2:], [insts[0].url, insts[1].url])
        lg.measure(insts[0], "keepalive", 0, 0)
        argv = seen["argv"]
        self.assertEqual(argv[argv.index("--netns") + 1], insts[0].netns_file)


if __name__ == "__main__":
    unittest.main()
