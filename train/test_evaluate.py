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
from evaluate import negative_windows, ranking_score  # noqa: E402


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


class Clips:
    """A packed split's interface over a few clips: frames [n, 2] filled with the clip's index."""

    def __init__(self, labels, lengths):
        self.labels = np.array(labels)
        self.clips = [np.full((n, 2), i, np.float32) for i, n in enumerate(lengths)]
        self.feats = np.zeros((0, 2), np.float32)

    def __len__(self):
        return len(self.clips)

    def clip(self, i):
        return self.clips[i]


class NegativeWindows(unittest.TestCase):
    def test_every_window_of_keyword_free_clips_only(self):
        unknown, silence = CLASSES.index("unknown"), CLASSES.index("silence")
        data = Clips([unknown, KEYWORD_IDS[0], silence], [10, 10, 4])
        x = negative_windows(data, 4, 3)
        # Clip 0: starts 0, 3, 6; the keyword clip none; clip 2: one window.
        self.assertEqual(x.shape, (4, 4, 2))
        self.assertEqual([float(w[0, 0]) for w in x], [0, 0, 0, 2])
        self.assertEqual(negative_windows(Clips([KEYWORD_IDS[1]], [8]), 4, 3).shape, (0, 4, 2))


if __name__ == "__main__":
    unittest.main()
