"""Tests of the checkpoint-selection scores.

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'
"""

import os
import sys
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from common import CLASSES, KEYWORDS  # noqa: E402
from dataset import KEYWORD_IDS  # noqa: E402
from evaluate import ranking_score  # noqa: E402


def posteriors(rows):
    """[N, C] posteriors with the given keyword scores and the rest on `unknown`."""
    out = np.zeros((len(rows), len(CLASSES)), np.float32)
    for i, scores in enumerate(rows):
        for k, v in scores.items():
            out[i, CLASSES.index(k)] = v
        out[i, CLASSES.index("unknown")] = 1 - sum(scores.values())
    return out


class RankingScore(unittest.TestCase):
    def setUp(self):
        self.kw = KEYWORDS[0]
        self.other = KEYWORDS[1]
        self.pos = posteriors([{self.kw: v} for v in (0.99, 0.95, 0.9, 0.6)])
        self.pos_y = np.full(4, KEYWORD_IDS[0])

    def test_threshold_is_the_nth_worst_negative(self):
        neg = posteriors([{self.kw: v} for v in (0.97, 0.92, 0.5, 0.1, 0.0)])
        # Bars: top 1 at 0.97 (0.99 above it), top 2 at 0.92 (0.99, 0.95), top 3 at 0.5 (all four).
        for top, want in ((1, 0.25), (2, 0.5), (3, 1.0)):
            score, recalls = ranking_score(self.pos, self.pos_y, neg, top)
            self.assertAlmostEqual(recalls[self.kw], want, msg=f"top {top}")
            self.assertAlmostEqual(score, want, msg="one keyword with clips: the mean is its recall")

    def test_a_tie_with_the_threshold_is_a_miss(self):
        neg = posteriors([{self.kw: 0.95}])
        _, recalls = ranking_score(self.pos, self.pos_y, neg, 1)
        self.assertAlmostEqual(recalls[self.kw], 0.25)

    def test_only_that_keywords_scores_count(self):
        # Negatives sure of another keyword leave this keyword's bar at their score for it.
        neg = posteriors([{self.other: 0.99}, {self.kw: 0.3}])
        _, recalls = ranking_score(self.pos, self.pos_y, neg, 1)
        self.assertAlmostEqual(recalls[self.kw], 1.0)
        self.assertNotIn(self.other, recalls, "a keyword without clips has no recall")

    def test_lowering_the_worst_negative_raises_the_score(self):
        worse = posteriors([{self.kw: 0.96}, {self.kw: 0.2}])
        better = posteriors([{self.kw: 0.5}, {self.kw: 0.2}])
        self.assertLess(ranking_score(self.pos, self.pos_y, worse, 1)[0],
                        ranking_score(self.pos, self.pos_y, better, 1)[0])


if __name__ == "__main__":
    unittest.main()
