"""Tests of the pairwise ranking loss and of the weight average of train/delta_finetune.py.

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'
"""

import os
import sys
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from delta_finetune import average_into, keeps_final  # noqa: E402
from ranking import pairwise_term, ranking_loss  # noqa: E402

KW, OTHER, NEG = 2, 3, 1


def logits(rows):
    """Logits over 4 classes with the given class log-odds (rest 0)."""
    out = torch.zeros(len(rows), 4)
    for i, r in enumerate(rows):
        for c, v in r.items():
            out[i, c] = v
    return out


class PairwiseTerm(unittest.TestCase):
    def test_ordered_pairs_cost_less_than_inverted(self):
        y = torch.tensor([KW, NEG, NEG])
        good = torch.log_softmax(logits([{KW: 8}, {NEG: 8}, {NEG: 8}]), 1)
        bad = torch.log_softmax(logits([{NEG: 8}, {KW: 8}, {NEG: 8}]), 1)
        g, b = pairwise_term(good, y, [KW], 1.0), pairwise_term(bad, y, [KW], 1.0)
        self.assertLess(float(g), 0.01)
        self.assertGreater(float(b), 5.0)

    def test_other_keywords_are_negatives(self):
        # An OTHER window that scores KW high breaks KW's order even with no unknown window.
        y = torch.tensor([KW, OTHER])
        lp = torch.log_softmax(logits([{KW: 0}, {KW: 9}]), 1)
        self.assertGreater(float(pairwise_term(lp, y, [KW], 0.0)), 1.0)

    def test_no_pairs_is_zero_and_keeps_the_graph(self):
        x = logits([{NEG: 1}, {NEG: 2}]).requires_grad_()
        t = pairwise_term(torch.log_softmax(x, 1), torch.tensor([NEG, NEG]), [KW], 1.0)
        self.assertEqual(float(t), 0.0)
        t.backward()  # must not raise: the step still runs on a batch without pairs

    def test_gradient_pushes_the_hard_negative_down_and_the_keyword_up(self):
        x = logits([{KW: 1}, {KW: 1}, {NEG: 8}]).requires_grad_()
        y = torch.tensor([KW, NEG, NEG])
        ranking_loss(lambda lg, yy: lg.sum() * 0.0, 1.0, 1.0, [KW])(x, y).backward()
        self.assertLess(float(x.grad[0, KW]), 0.0)     # descent raises the keyword's logit
        self.assertGreater(float(x.grad[1, KW]), 0.0)  # and lowers the hard negative's
        # The easy negative (log-posterior of KW far below) gets almost nothing.
        self.assertLess(abs(float(x.grad[2, KW])), abs(float(x.grad[1, KW])) / 10)

    def test_weight_zero_is_the_base_loss(self):
        x, y = logits([{KW: 1}, {NEG: 3}]), torch.tensor([KW, NEG])
        ce = torch.nn.CrossEntropyLoss()
        self.assertAlmostEqual(float(ranking_loss(ce, 0.0, 1.0, [KW])(x, y)), float(ce(x, y)), places=6)


class WeightAverage(unittest.TestCase):
    def test_keep_last_ends_on_the_final_weights(self):
        # Scores are tuples compared element by element, as robust_score returns them.
        self.assertTrue(keeps_final((0.9, 0.8), (0.8, 0.9), "best"))
        self.assertFalse(keeps_final((0.7, 0.9), (0.8, 0.9), "best"))
        self.assertTrue(keeps_final((0.7, 0.9), (0.8, 0.9), "last"))

    def test_average_moves_towards_the_weights_and_leaves_integers(self):
        ema = {"w": torch.tensor([0.0, 10.0]), "n": torch.tensor([3])}
        for _ in range(2):
            average_into(ema, {"w": torch.tensor([1.0, 0.0]), "n": torch.tensor([7])}, 0.5)
        torch.testing.assert_close(ema["w"], torch.tensor([0.75, 2.5]))
        self.assertEqual(int(ema["n"]), 3)


if __name__ == "__main__":
    unittest.main()
