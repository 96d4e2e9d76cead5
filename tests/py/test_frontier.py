"""The exposure/cost frontier of advise: which drop-ins lie between the
whole proposal and the cheapest one (sblib.advice.frontier_points)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sblib.advice import frontier_points  # noqa: E402


class TestFrontier(unittest.TestCase):
    MEMBERS = ["a", "b", "c", "d"]

    def test_costliest_first_cumulative(self):
        costs = {"a": (0.010, 0.004, 0.016), "b": (0.030, 0.020, 0.040),
                 "c": (0.001, -0.004, 0.006), "d": (0.020, 0.012, 0.028)}
        pts = frontier_points(self.MEMBERS, costs, floor=0.01)
        self.assertEqual([p[2] for p in pts], [["b"], ["b", "d"], ["b", "d", "a"]])
        self.assertEqual(pts[1][1], ["a", "c"])
        self.assertEqual([p[0] for p in pts], ["advice-less-1", "advice-less-2",
                                               "advice-less-3"])

    def test_only_members_above_zero_and_floor(self):
        # c reads high but its interval includes 0; a is above 0 but within the
        # A/A floor: neither is dropped for its cost
        costs = {"a": (0.006, 0.001, 0.009), "b": (0.030, 0.020, 0.040),
                 "c": (0.050, -0.010, 0.110), "d": (None, None, None)}
        pts = frontier_points(self.MEMBERS, costs, floor=0.015)
        self.assertEqual([p[2] for p in pts], [["b"]])
        self.assertEqual(frontier_points(self.MEMBERS, {}, floor=0.0), [])

    def test_at_most(self):
        costs = {m: (0.02 + i / 100, 0.01, 0.05) for i, m in enumerate(self.MEMBERS)}
        self.assertEqual(len(frontier_points(self.MEMBERS, costs, 0.0, most=2)), 2)


if __name__ == "__main__":
    unittest.main()
