# Description: shared helpers for the servers-* integration tests (not a test
# itself: not executable). Starts the real lunchd programs (sanitizer builds
# from $SAN_BIN for direct runs, release builds from $BIN), real nginx, talks
# real TLS with Python's ssl module, and cleans up only the processes it
# started, by PID. Exit codes: 0 pass, 1 fail, 77 skip.
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _bindir(var, default):
    d = os.environ.get(var) or default
    return d if os.path.isabs(d) else os.path.join(TOP, d)


BIN = _bindir("BIN", "build/bin")
SAN_BIN = _bindir("SAN_BIN", BIN)
LUNCH = re.compile(rb"^<h1>(Sandwich|Soup|Salad|Burger|Sushi)</h1>$")


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def log(msg):
    print(msg, flush=True)


def pattern(n, off=0):
    """The /bytes/ body: byte k is "0123456789abcdef"[k % 16]."""
    p = b"0123456789abcdef"
    reps = (off + n) // 16 + 2
    return (p * reps)[off:off + n]


class Proc:
    def __init__(self, name, popen, logpath):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.logpath = logpath

    def log(self):
        try:
            with open(self.logpath, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.popen.poll() is None


class Env:
    """A temp dir with a test certificate and content files; owns started processes."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="sandbench-%s." % name)
        os.chmod(self.dir, 0o755)  # nginx workers and dropped servers reach sockets here
        self.procs = []
        self.certdir = os.path.join(self.dir, "cert")
        subprocess.run([os.path.join(TOP, "scripts", "mkcert"), self.certdir], check=True,
                       stdout=subprocess.DEVNULL)
        os.chmod(self.certdir, 0o755)
        self.key = os.path.join(self.certdir, "key.pem")
        self.cert = os.path.join(self.certdir, "cert.pem")
        self.chain = os.path.join(self.certdir, "chain.pem")
        self.content = os.path.join(self.dir, "content")
        os.mkdir(self.content)
        os.chmod(self.content, 0o755)
        with open(os.path.join(self.content, "hello.txt"), "w") as f:
            f.write("hello from the content directory\n")
        with open(os.path.join(self.content, "big.bin"), "wb") as f:
            f.write(os.urandom(300000))
        os.chmod(os.path.join(self.content, "hello.txt"), 0o644)
        os.chmod(os.path.join(self.content, "big.bin"), 0o644)
        os.symlink("/etc/shadow", os.path.join(self.content, "shadow"))

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def start(self, name, argv, env=None, ready=None, timeout=15):
        """Starts argv (a list) in the background, logging to DIR/NAME.log.
        ready: ("tls"|"plain", port_or_unixpath) to wait for /healthz, or None."""
        logpath = self.path(name + ".log")
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        if env:
            e.update(env)
        with open(logpath, "wb") as logf:
            p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=e,
                                 stdin=subprocess.DEVNULL)
        proc = Proc(name, p, logpath)
        self.procs.append(proc)
        if ready:
            kind, where = ready
            deadline = time.time() + timeout
            while True:
                if not proc.alive():
                    raise AssertionError("%s exited early (rc %s):\n%s" % (name, p.returncode,
                                                                            proc.log()))
                try:
                    s = connect(kind, where, timeout=2)
                    st, _, _ = http(s, "GET", "/healthz")
                    s.close()
                    if st == 200:
                        break
                except (OSError, AssertionError):
                    pass
                if time.time() > deadline:
                    raise AssertionError("%s not ready after %ss:\n%s" % (name, timeout,
                                                                           proc.log()))
                time.sleep(0.05)
        return proc

    def stop(self, proc, expect_rc=0, sig=signal.SIGTERM, timeout=20):
        """Stops proc by its PID and checks its exit code (sanitizer reports fail it)."""
        if proc.alive():
            os.kill(proc.pid, sig)
        try:
            rc = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.popen.wait()
            raise AssertionError("%s did not stop within %ss after signal %d:\n%s"
                                 % (proc.name, timeout, sig, proc.log()))
        text = proc.log()
        if expect_rc is not None:
            check(rc == expect_rc, "%s exited with %s, want %s:\n%s" % (proc.name, rc,
                                                                        expect_rc, text))
        check("ERROR: AddressSanitizer" not in text and "runtime error:" not in text
              and "LeakSanitizer" not in text, "%s: sanitizer report:\n%s" % (proc.name, text))
        return text

    def cleanup(self):
        for proc in self.procs:
            if proc.alive():
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.popen.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    try:
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.popen.wait(timeout=5)
                    except (OSError, subprocess.TimeoutExpired):
                        pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        for proc in self.procs:
            print("----- %s log (pid %d) -----" % (proc.name, proc.pid))
            print(proc.log()[-4000:])


_ctx_cache = {}


def tls_context(cafile=None, alpn=("http/1.1",), version=None):
    key = (cafile, tuple(alpn or ()), version)
    if key in _ctx_cache:
        return _ctx_cache[key]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if version:
        ctx.minimum_version = version
        ctx.maximum_version = version
    _ctx_cache[key] = ctx
    return ctx


def connect(kind, where, timeout=5, cafile=None, session=None, version=None, alpn=("http/1.1",)):
    """kind "tls" or "plain"; where a TCP port on 127.0.0.1 or a unix socket path."""
    if isinstance(where, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(where)
    else:
        s = socket.create_connection(("127.0.0.1", where), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == "tls":
        ctx = tls_context(cafile, alpn, version)
        s = ctx.wrap_socket(s, server_hostname="localhost", session=session)
    return s


def request_bytes(method, path, version="1.1", headers=None, host=True):
    h = "%s %s HTTP/%s\r\n" % (method, path, version)
    if host:
        h += "Host: localhost\r\n"
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    return (h + "\r\n").encode()


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping leftover bytes (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        hdr, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = hdr.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
        check(m is not None, "bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(m.group(1)), headers, body

    def at_eof(self, timeout=5):
        """True if the peer closes (EOF, reset or TLS close) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


def http(sock, method, path, version="1.1", headers=None):
    sock.sendall(request_bytes(method, path, version, headers))
    return Reader(sock).response(head=(method == "HEAD"))


def run(name, body):
    """Runs body(env), printing PASS/FAIL; exits 0, 1 or 77."""
    env = None
    rc = 1
    try:
        env = Env(name)
        body(env)
        rc = 0
        log("%s: all checks passed" % name)
    except Skip as e:
        rc = 77
        log("skip: %s" % e)
    except Exception:
        traceback.print_exc()
        if env:
            env.dump_logs()
        log("%s: FAILED" % name)
    finally:
        if env:
            env.cleanup()
    sys.exit(rc)


def wait_for(cond, timeout, what, every=0.05):
    """Polls cond() until it is true; AssertionError after timeout seconds.
    Waiting on the condition itself, not for a guessed time, holds on a
    loaded machine and costs nothing on an idle one."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(every)


def listening(port):
    """Is a TCP socket listening on 127.0.0.1:port (or any address)? Read from
    /proc/net/tcp, so asking does not connect (which would spawn an Accept=yes
    service)."""
    want = {"0100007F:%04X" % port, "00000000:%04X" % port}
    with open("/proc/net/tcp") as f:
        next(f)
        return any(line.split()[1] in want and line.split()[3] == "0A" for line in f)


class Witness(threading.Thread):
    """Keeps one keep-alive client being served while other tests abuse the server;
    records every failure and the worst latency."""

    def __init__(self, kind, where, path="/"):
        super().__init__(daemon=True)
        self.kind, self.where, self.path = kind, where, path
        self.stop_ev = threading.Event()
        self.errors = []
        self.count = 0
        self.worst = 0.0

    def run(self):
        sock = None
        reader = None
        while not self.stop_ev.is_set():
            try:
                if sock is None:
                    sock = connect(self.kind, self.where, timeout=5)
                    reader = Reader(sock)
                t = time.monotonic()
                sock.sendall(request_bytes("GET", self.path))
                st, _, body = reader.response()
                dt = time.monotonic() - t
                self.worst = max(self.worst, dt)
                if st != 200:
                    self.errors.append("status %d" % st)
                self.count += 1
            except Exception as e:  # a timeout of our own idle connection is not an error
                self.errors.append(repr(e))
                sock = None
            time.sleep(0.01)
        if sock:
            sock.close()

    def finish(self):
        self.stop_ev.set()
        self.join(10)
        return self.errors
