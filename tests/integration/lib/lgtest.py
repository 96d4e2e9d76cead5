"""Description: helpers for loadgen's integration tests (standard library only).

Starts a real nginx with its own configuration in a temporary directory on
the given loopback ports (TLS certificate from scripts/mkcert), starts the
misbehaving test server (badserver.py), runs loadgen with --json and returns
the parsed object. Every process started here is stopped by its PID.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LIB = os.path.dirname(os.path.abspath(__file__))

SKIP = 77


def skip(why):
    print("SKIP:", why)
    sys.exit(SKIP)


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)
    print("ok:", why)


def bin_path(name):
    """build/bin/NAME under test: the sanitizer build when there is one."""
    for env in ("SAN_BIN", "BIN"):
        d = os.environ.get(env)
        if d:
            p = os.path.join(d, name)
            if not os.path.isabs(p):
                p = os.path.join(TOP, p)
            if os.access(p, os.X_OK):
                return p
    p = os.path.join(TOP, "build", "bin", name)
    if os.access(p, os.X_OK):
        return p
    skip("no %s binary (run make)" % name)


def loadgen_bin():
    return bin_path("loadgen")


def wait_port(port, host="127.0.0.1", timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ipv6_loopback():
    """Can we listen on [::1]?"""
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    log_format lg '$connection $ssl_session_reused $status $request_uri';
    access_log {dir}/access.log lg;
    keepalive_requests 10000000;
    keepalive_timeout 65;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    ssl_certificate {dir}/cert/chain.pem;
    ssl_certificate_key {dir}/cert/key.pem;
    {ssl_extra}
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        location = / {{ return 200 "<h1>Soup</h1>\\n"; }}
        location = /missing {{ return 404; }}
        location /static/ {{ root {dir}/www; }}
    }}
}}
"""


class Nginx:
    """A real nginx on 127.0.0.1:http_port and :https_port (TLS)."""

    def __init__(self, http_port, https_port, ssl_extra="", access_log=True):
        if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
            skip("nginx not installed")
        for p in (http_port, https_port):
            if not port_free(p):
                skip("port %d is busy" % p)
        self.dir = tempfile.mkdtemp(prefix="loadgen-nginx-")
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "tmp"))
        os.makedirs(os.path.join(self.dir, "www", "static"))
        subprocess.run([os.path.join(TOP, "scripts", "mkcert"), os.path.join(self.dir, "cert")],
                       check=True, stdout=subprocess.DEVNULL)
        conf = NGINX_CONF.format(dir=self.dir, http_port=http_port, https_port=https_port,
                                 ssl_extra=ssl_extra)
        if not access_log:
            conf = conf.replace("access_log %s/access.log lg;" % self.dir, "access_log off;")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-c", self.conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.http_port, self.https_port = http_port, https_port
        if not wait_port(http_port) or not wait_port(https_port):
            self.stop()
            fail("nginx did not start: " + self.error_log())

    def url(self, tls, path="/"):
        if tls:
            return "https://127.0.0.1:%d%s" % (self.https_port, path)
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def access_lines(self):
        """The access log so far (nginx writes it unbuffered)."""
        with open(os.path.join(self.dir, "access.log")) as f:
            return [l.split() for l in f.read().splitlines() if l.strip()]

    def truncate_log(self):
        open(os.path.join(self.dir, "access.log"), "w").close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # master: stops its worker too
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class BadServer:
    """tests/integration/lib/badserver.py in MODE on port."""

    def __init__(self, mode, port, *args, ipv6=False):
        if not ipv6 and not port_free(port):
            skip("port %d is busy" % port)
        self.ipv6 = ipv6
        self.proc = subprocess.Popen([sys.executable, os.path.join(LIB, "badserver.py")] +
                                     (["-6"] if ipv6 else []) + [mode, str(port)] + list(args),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            fail("badserver %s did not start" % mode)
        self.port = port

    def url(self, path="/"):
        host = "[::1]" if self.ipv6 else "127.0.0.1"
        return "http://%s:%d%s" % (host, self.port, path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

def cgroup2_mount():
    """Where the cgroup2 hierarchy is mounted, or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def start_backend(cg, port, *args):
    """A real lunchd-backend on 127.0.0.1:PORT (extra ARGS), in cgroup2
    directory CG from before its exec, so all of its CPU is there."""
    srv = subprocess.Popen(["/bin/sh", "-c", 'cg=$1; shift; echo $$ > "$cg/cgroup.procs" && exec "$@"',
                            "sh", cg, bin_path("lunchd-backend"), "--listen",
                            "127.0.0.1:%d" % port] + list(args),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not wait_port(port):
        srv.kill()
        fail("lunchd-backend did not listen: %s" % srv.communicate()[1])
    return srv


def stop(srv):
    """Stops a server this test started, by its PID."""
    if srv is not None and srv.poll() is None:
        srv.terminate()
        srv.wait(10)


def run_loadgen(*args, timeout=60, expect_rc=0):
    """Runs loadgen --json ARGS; returns (object, wall seconds)."""
    cmd = [loadgen_bin(), "--json"] + [str(a) for a in args]
    print("+", " ".join(cmd))
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    wall = time.monotonic() - t0
    if p.stderr.strip():
        print(p.stderr.strip()[-3000:])
    if p.returncode != expect_rc:
        fail("loadgen exited %d (want %d)" % (p.returncode, expect_rc))
    lines = p.stdout.strip().splitlines()
    if len(lines) != 1:
        fail("--json printed %d lines, want exactly one" % len(lines))
    obj = json.loads(lines[0])
    summary = {k: obj[k] for k in ("mode", "requests", "rps", "errors", "status",
                                   "handshakes", "connections_opened")}
    print("  ->", json.dumps(summary))
    return obj, wall
