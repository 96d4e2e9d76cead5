"""sblib.report as a package: modules a reader takes in one sitting, and a
report with nothing to plot says nothing about plots."""
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
from sblib.commands import report as report_cmd  # noqa: E402
import sbfixture  # noqa: E402

REPORT = os.path.join(HERE, "..", "..", "scripts", "sblib", "report")


class NothingToPlot(unittest.TestCase):
    def test_no_stray_plots_line(self):
        # every variant a calibration control, in two modes: no cost,
        # exposure or start-up plot has anything to draw, which is no error
        # (the report once ended in "Plots: ; ", an empty error per mode)
        if shutil.which("gnuplot") is None:
            self.skipTest("gnuplot not installed")
        with tempfile.TemporaryDirectory(prefix="sb-report-np-") as tmp:
            d = sbfixture.make_results(os.path.join(tmp, "np"), rounds=4,
                                       modes=("keepalive", "close"),
                                       costs={"calibration-work-2us": (1.05, 9.6, "ok")})
            rc, _, err = sbfixture.run_main(report_cmd.main, [d])
            self.assertEqual(rc, 0, err)
            self.assertEqual(err, "")
            with open(os.path.join(d, "report.md"), encoding="utf-8") as f:
                md = f.read()
            self.assertNotIn("Plots:", md)
            self.assertIn("(plots/latency-drop-keepalive.png)", md)   # what can be, is drawn
            self.assertNotIn("(plots/cost-", md)


class Size(unittest.TestCase):
    def test_no_module_over_500_lines(self):
        for fn in sorted(os.listdir(REPORT)):
            if fn.endswith(".py"):
                with self.subTest(module=fn), open(os.path.join(REPORT, fn)) as f:
                    self.assertLessEqual(sum(1 for _ in f), 500)


if __name__ == "__main__":
    unittest.main()
