#!/usr/bin/python3
# timeout: 120
"""Description: response bodies. Large Content-Length bodies from a real nginx
(spanning many receive buffers and TLS records) over HTTP and HTTPS, and
chunked bodies with extensions and trailers sent in separate segments: every
response is counted once, and the byte count is exact."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402


def main():
    with lgtest.Nginx(19150, 19151) as ng:
        size = 1000000
        with open(os.path.join(ng.dir, "www", "static", "big"), "wb") as f:
            f.write(b"x" * size)
        for tls in (False, True):
            name = "https" if tls else "http"
            o, _ = lgtest.run_loadgen("-c", 4, "-n", 200, ng.url(tls, "/static/big"))
            check(o["requests"] == 200 and o["status"] == {"200": 200}
                  and o["errors"]["total"] == 0, name + ": 200 responses of 1 MB")
            per = o["bytes"] / 200
            check(size < per < size + 1000 and o["bytes"] % 200 == 0,
                  name + ": %d bytes per response (body + the same headers)" % per)
            o, _ = lgtest.run_loadgen("-c", 2, "-d", "1", "--pipeline", 3,
                                      ng.url(tls, "/static/big"))
            check(o["requests"] > 0 and o["errors"]["total"] == 0,
                  name + ": pipelined 1 MB responses")

    with lgtest.BadServer("chunked", 19152) as s:
        o, _ = lgtest.run_loadgen("-c", 3, "-n", 300, s.url())
        check(o["requests"] == 300 and o["errors"]["total"] == 0, "chunked: 300 responses")
        want = len(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n"
                   b"abcdefghijklmnopqrstuvwxyz\r\n3e8;x=y\r\n") + 1000 + len(
                       b"\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n")
        check(o["bytes"] == 300 * want, "chunked: exact byte count (%d each)" % want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
