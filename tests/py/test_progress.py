"""analyse()'s own progress line (_results._Meter): on a terminal's standard
error once the analysis has taken a couple of seconds, with the time left;
nothing otherwise."""
import io
import os
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.analysis import results as rs  # noqa: E402
import sbfixture  # noqa: E402


class Tty(io.StringIO):
    def isatty(self):
        return True


class Meter(unittest.TestCase):
    def test_silent_off_a_terminal(self):
        out = io.StringIO()
        m = rs._Meter(out)
        m.start -= 60
        for k in range(11):
            m(k, 10)
        self.assertEqual(out.getvalue(), "")

    def test_quiet_while_quick(self):
        out = Tty()
        m = rs._Meter(out)
        for k in range(11):
            m(k, 10)
        self.assertEqual(out.getvalue(), "")

    def test_line_with_time_left_then_cleared(self):
        out = Tty()
        m = rs._Meter(out)
        m(0, 100)
        m.start -= 60                                # the analysis has run a while
        m.first = (m.first[0] - 10.0, 0)             # 10 s for the first 25
        m(25, 100)
        line = out.getvalue()
        self.assertTrue(line.startswith("\r"), line)
        self.assertIn("25/100 comparisons (25%)", line)
        self.assertRegex(line, r"about (29|30|31) s left")    # 75 more at 2.5 a second
        m(100, 100)
        self.assertTrue(out.getvalue().endswith("\r\033[K"))

    def test_analyse_prints_nothing_off_a_terminal(self):
        d = tempfile.mkdtemp(prefix="sb-progress-")
        try:
            res = rs.load(sbfixture.make_results(os.path.join(d, "r"), seed=2))
            rs._Meter.DELAY, delay = 0.0, rs._Meter.DELAY
            err = io.StringIO()
            try:
                with redirect_stderr(err):
                    a = rs.analyse(res, resamples=50)
            finally:
                rs._Meter.DELAY = delay
            self.assertEqual(err.getvalue(), "")
            self.assertTrue(a["groups"][0]["rows"])
            # a caller's PROGRESS hears of every comparison
            seen = []
            rs.analyse(rs.load(os.path.join(d, "r")), resamples=50,
                       progress=lambda done, total: seen.append((done, total)))
            self.assertEqual(seen[0][0], 0)
            self.assertEqual(seen[-1][0], seen[-1][1])
            self.assertEqual(len(seen), seen[-1][1] + 1)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
