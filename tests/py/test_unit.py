"""A user's unit set (sblib.measuring.unit): which files make a measurable service,
which one is started and which one gets the directives, and what a failed
start's journal says was missing."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sblib.measuring import unit as _unit  # noqa: E402

URL = "https://127.0.0.1:8444/"


class TestSpec(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-unit-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def unit(self, name, text="[Service]\nExecStart=/bin/true\n"):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_service_alone(self):
        s = _unit.server_spec([self.unit("web.service")], URL)
        self.assertEqual((s["units"], s["start"], s["target"], s["cpu"]),
                         (["web.service"], "web.service", "web.service", ["web.service"]))
        self.assertEqual(s["default_port"], 8444)
        self.assertFalse(s["side"])

    def test_socket_pair_starts_the_socket(self):
        sock = self.unit("web.socket", "[Socket]\nListenStream=8444\n")
        s = _unit.server_spec([self.unit("web.service"), sock], URL)
        self.assertEqual((s["start"], s["target"], s["cpu"]),
                         ("web.socket", "web.service", ["web.service"]))
        self.assertEqual(s["units"], ["web.socket", "web.service"])
        # systemd binds the URL's port: instances can run side by side
        self.assertTrue(s["side"])
        other = self.unit("o.socket", "[Socket]\nListenStream=9000\n")
        self.assertFalse(_unit.server_spec([other, self.unit("o.service")], URL)["side"])

    def test_socket_service_key(self):
        sock = self.unit("a.socket", "[Socket]\nListenStream=1\nService=b.service\n")
        s = _unit.server_spec([sock, self.unit("b.service")], URL)
        self.assertEqual(s["target"], "b.service")
        with self.assertRaisesRegex(_unit.UnitError, "activates b.service"):
            _unit.server_spec([sock, self.unit("a.service")], URL)

    def test_accept_yes_template(self):
        sock = self.unit("web.socket", "[Socket]\nListenStream=8444\nAccept=yes\n")
        s = _unit.server_spec([sock, self.unit("web@.service")], URL)
        self.assertEqual(s["cpu"], ["system-web.slice"])
        self.assertIn("close", s["slice_connections"])
        # a template without its socket, or Accept=no with a template
        with self.assertRaisesRegex(_unit.UnitError, "template"):
            _unit.server_spec([self.unit("web@.service")], URL)
        plain = self.unit("x.socket", "[Socket]\nListenStream=1\n")
        with self.assertRaisesRegex(_unit.UnitError, "activates x.service"):
            _unit.server_spec([plain, self.unit("x@.service")], URL)

    def test_refused_sets(self):
        svc = self.unit("web.service")
        for paths, msg in (([], "give the service"),
                           ([svc, svc], "given twice"),
                           ([self.unit("web.timer")], "a .service or .socket"),
                           ([svc, self.unit("other.service")], "one .service"),
                           ([os.path.join(self.dir, "none.service")], "no such unit file")):
            with self.assertRaisesRegex(_unit.UnitError, msg):
                _unit.server_spec(paths, URL)
        masked = os.path.join(self.dir, "m.service")
        os.symlink("/dev/null", masked)
        with self.assertRaisesRegex(_unit.UnitError, "masked"):
            _unit.server_spec([masked], URL)
        with self.assertRaisesRegex(_unit.UnitError, "--url"):
            _unit.server_spec([svc], "127.0.0.1:80")

    def test_port_placeholder_runs_side_by_side(self):
        s = _unit.server_spec([self.unit("w.service", "[Service]\nExecStart=/x -p @PORT@\n")], URL)
        self.assertTrue(s["side"])

    def test_parse_continuations(self):
        p = _unit.parse("[Service]\n# c\nExecStart=/bin/a \\\n  -b\nUser=x\n[Socket]\nAccept=yes\n")
        self.assertEqual(_unit.last(p, "Service", "ExecStart"), "/bin/a  -b")
        self.assertTrue(_unit.yes(_unit.last(p, "Socket", "Accept")))


class TestMissing(unittest.TestCase):
    def test_paths_on_missing_lines_only(self):
        reason = ('2026/12/02 07:10:16 [emerg] 522#522: open() "/etc/nothere/nginx.conf" '
                  'failed (2: No such file or directory) | x.service: Main process exited '
                  '| reading /etc/present.conf | opening configfile /srv/a/l.conf failed: '
                  'No such file or directory')
        got = _unit.missing_paths(reason, lambda p: p == "/etc/present.conf")
        self.assertEqual(got, ["/etc/nothere/nginx.conf", "/srv/a/l.conf"])
        self.assertEqual(_unit.missing_paths("all good", lambda p: False), [])

    def test_explain(self):
        out = _unit.explain_missing(["/tmp/x.conf", "/etc/y"], lambda p: p == "/tmp/x.conf")
        self.assertIn("fresh tmpfs", out[0])
        self.assertIn("does not exist", out[1])

    def test_explain_dangling_link_and_clean_root(self):
        # lighttpd's conf-enabled/10-ssl.conf links a file another package ships
        p = "/etc/lighttpd/conf-enabled/10-ssl.conf"
        out = _unit.explain_missing([p], lambda _: False,
                                    lambda q: "../conf-available/10-ssl.conf" if q == p else None)
        self.assertIn("symlink to ../conf-available/10-ssl.conf", out[0])
        self.assertIn("package", out[0])
        out = _unit.explain_missing(["/etc/a", "/etc/b"], lambda q: q == "/etc/a", root="/r")
        self.assertIn("root /r", out[0])
        self.assertIn("--show", out[0])
        self.assertNotIn("--show", out[1])


if __name__ == "__main__":
    unittest.main()
