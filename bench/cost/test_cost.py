"""cost.py spread: the least, median and greatest of each ratio over independent runs."""

import json
import tempfile
import unittest
from pathlib import Path

import cost


def run(delta_ort, ort_ms):
    return {"cpu": "test CPU", "date": "2026-12-05",
            "latency_ratios": {"go-delta / ort": {"of_medians": delta_ort, "paired_median": delta_ort + 0.01}},
            "engines": {"ort": {"median_ms": ort_ms}}}


class SpreadTest(unittest.TestCase):
    def test_spread(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, (r, ms) in enumerate([(0.63, 1.9), (0.51, 1.7), (0.57, 2.1)]):
                p = Path(d) / f"run{i}.json"
                p.write_text(json.dumps(run(r, ms)))
                paths.append(str(p))
            out = Path(d) / "spread.json"
            cost.spread(str(out), paths)
            res = json.loads(out.read_text())
        self.assertEqual(res["runs"], 3)
        v = res["latency_ratios"]["go-delta / ort"]["of_medians"]
        self.assertEqual((v["min"], v["median"], v["max"]), (0.51, 0.57, 0.63))
        self.assertAlmostEqual(res["latency_ratios"]["go-delta / ort"]["paired_median"]["max"], 0.64)
        self.assertEqual(res["median_ms"]["ort"]["median"], 1.9)

    def test_no_results(self):
        with self.assertRaises(SystemExit):
            cost.spread("/dev/null", [])


if __name__ == "__main__":
    unittest.main()
