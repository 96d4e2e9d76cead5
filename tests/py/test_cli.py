"""The dispatcher's conventions: a reader that goes away is no error of ours
(`sandbench host --help | head -1` printed a BrokenPipe traceback), and every
command's --help ends with its exit statuses."""
import os
import subprocess
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SB = ["/usr/bin/python3", os.path.join(TOP, "scripts", "sandbench")]


def first_line_then_close(argv):
    """Runs ARGV, reads one line of its output and closes the pipe, as
    `| head -1` does; returns (exit status, stderr)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    return p.wait(timeout=60), err


class Cli(unittest.TestCase):
    def test_a_reader_that_goes_away(self):
        for cmd in ("host", "micro", "compare", "run"):
            with self.subTest(command=cmd):
                rc, err = first_line_then_close(SB + [cmd, "--help"])
                self.assertNotIn("Traceback", err)
                self.assertIn(rc, (0, 141))

    def test_every_help_lists_exit_statuses(self):
        out = subprocess.run(SB + ["--help"], stdout=subprocess.PIPE, text=True).stdout
        listed = out.split("commands:", 1)[1]
        cmds = [ln.split()[0] for ln in listed.splitlines() if ln.startswith("  ")]
        self.assertGreater(len(cmds), 10)
        for cmd in cmds:
            with self.subTest(command=cmd):
                h = subprocess.run(SB + [cmd, "--help"], stdout=subprocess.PIPE, text=True).stdout
                self.assertIn("exit status", h.lower())


if __name__ == "__main__":
    unittest.main()
