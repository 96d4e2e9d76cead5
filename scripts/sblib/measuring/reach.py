"""Reaching a server from this machine: probe its URL (inside a network
namespace when it has one) until it answers, and wait for its cgroups to go
quiet before a measurement starts."""
import os
import re
import socket
import ssl
import time

from sblib.measuring import copies



def probe(url, timeout=1.0, netns=None):
    """One GET of URL (connected inside the network namespace file NETNS
    when given): the HTTP status code, or None when nothing answered."""
    m = re.match(r"^(https?)://(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?$", url)
    scheme, hostname, port, path = m.group(1), m.group(2).strip("[]"), m.group(3), m.group(4) or "/"
    port = int(port or (443 if scheme == "https" else 80))
    try:
        with copies.entered(netns):
            s = socket.create_connection((hostname, port), timeout=timeout)
    except OSError:
        return None
    try:
        s.settimeout(timeout)
        if scheme == "https":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        m2 = re.match(rb"^HTTP/1\.[01] (\d{3})", data)
        return int(m2.group(1)) if m2 else None
    except (OSError, ssl.SSLError):
        return None
    finally:
        try:
            s.close()
        except OSError:
            pass


def url_with_port(url, port, path=None):
    m = re.match(r"^(https?)://(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?$", url)
    return f"{m.group(1)}://{m.group(2)}:{port}{path if path is not None else (m.group(4) or '/')}"


# --- CPU of whole connections (process-per-connection servers) -------------------

def busy(dirs):
    """Whether a per-connection unit (a template instance, NAME@...) still has
    a cgroup under DIRS: a process starting, serving or exiting."""
    for d in dirs or []:
        try:
            if any("@" in n for n in os.listdir(d)):
                return True
        except OSError:
            pass
    return False


def settle(dirs, limit=3.0):
    """Waits until no per-connection unit is left under DIRS (at most LIMIT
    seconds); True if idle."""
    end = time.monotonic() + limit
    while busy(dirs):
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return True


# --- instances ---------------------------------------------------------------------
