"""Tests of the real-data split, the sampler's real negatives and hard-negative mining.

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'

They build a small tree of Ogg-free stand-ins (WAV files named like the real ones) in a
temporary folder, so they need neither the shared data nor a trained model.
"""

import os
import sys
import tempfile
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

import realdata  # noqa: E402
from common import CLASS_INDEX, KEYWORDS  # noqa: E402
from dataset import Packed, Sampler  # noqa: E402
from mining import HardNegatives, mix_into  # noqa: E402

SR = 16000


def write(path, seconds, value=0.1):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full(int(seconds * SR), value, np.float32), SR, format="WAV", subtype="PCM_16")


class RealSplit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.old = realdata.REAL, realdata.OUT
        realdata.REAL, realdata.OUT = root / "real", root / "cache"
        sp = realdata.REAL / "speech"
        for spk in range(40):
            for u in range(3):
                write(sp / "speechocean762" / f"SPEAKER{spk:04d}" / f"{spk:04d}{u:05d}.opus", 0.5)
        for spk in range(5):
            write(sp / "fsdd" / f"spk{spk}" / f"0_spk{spk}_{spk}.opus", 0.3)
        for u in range(6):
            write(sp / "precise" / "amelia" / "en" / f"amelia-{u}.opus", 0.4)
        (sp / "speechocean762" / "text").write_text("000000000 I SAW SNOW TODAY\n000000001 WE CALL IT BEAR\n")
        nz = realdata.REAL / "noise"
        for fsid in range(20):
            for sl in range(3):
                write(nz / "urbansound8k" / "fold1" / f"dog_bark_{1000 + fsid}-3-0-{sl}.opus", 0.2)
        write(nz / "household" / "kitchen.opus", 10.0)

    def tearDown(self):
        realdata.REAL, realdata.OUT = self.old
        self.tmp.cleanup()

    def test_groups_never_straddle_splits(self):
        items = realdata.listing()
        by_group = {}
        for it in items:
            if "share" in it:
                continue
            by_group.setdefault(it["group"], set()).add(it["split"])
        self.assertTrue(all(len(s) == 1 for s in by_group.values()), by_group)
        # speakers are the groups where the source has them; Precise folders are one group
        self.assertIn("speechocean762/SPEAKER0007", by_group)
        self.assertIn("precise/amelia/en", by_group)
        self.assertEqual(len([g for g in by_group if g.startswith("urbansound8k/")]), 20)
        splits = {s for v in by_group.values() for s in v}
        self.assertEqual(splits, {"train", "selection", "validation"})  # 65 groups reach all three

    def test_split_is_stable_and_follows_the_hash(self):
        for g in ("speechocean762/SPEAKER0001", "fsdd/jackson", "urbansound8k/7061"):
            b = realdata.bucket(g)
            want = "validation" if b < 25 else "selection" if b < 40 else "train"
            self.assertEqual(realdata.split_of_group(g), want)

    def test_long_noise_is_cut_in_time(self):
        shares = sorted(it["share"] for it in realdata.listing() if it["source"] == "household")
        self.assertEqual(shares, [[0.0, 0.6], [0.6, 0.75], [0.75, 1.0]])

    def test_decode_writes_each_split_and_manifest(self):
        items = realdata.decode(workers=1)
        for it in items:
            path = realdata.OUT / it["wav"]
            self.assertTrue(path.exists(), path)
            self.assertTrue(str(it["wav"]).startswith(it["split"] + "/" + it["kind"] + "/"))
        cuts = {it["split"]: it["seconds"] for it in items if it["source"] == "household"}
        self.assertAlmostEqual(sum(cuts.values()), 10.0, places=2)
        self.assertAlmostEqual(cuts["validation"], 2.5, places=2)
        snow = [it for it in items if it.get("transcript") == "I SAW SNOW TODAY"]
        self.assertEqual(len(snow), 1)
        self.assertTrue(snow[0]["confusable"])
        bear = [it for it in items if it.get("transcript") == "WE CALL IT BEAR"]
        self.assertFalse(bear[0]["confusable"])
        again = realdata.decode(workers=1)  # idempotent: the files are kept
        self.assertEqual([it["seconds"] for it in again], [it["seconds"] for it in items])


class FakePacked(Packed):
    """A packed split built in memory, not loaded: clip i's frames hold its 'danger' in the
    first coefficient."""

    def __init__(self, labels, sources, danger, length=60, coeffs=4):
        self.labels = np.array(labels, np.int64)
        self.sources = np.array(sources)
        self.variants = np.zeros(len(labels), np.int64)
        self.regions = np.array([[10, 50]] * len(labels), np.int64)
        self.offsets = np.arange(len(labels) + 1, dtype=np.int64) * length
        f = np.zeros((len(labels) * length, coeffs), np.float32)
        for i, d in enumerate(danger):
            f[i * length:(i + 1) * length, 0] = d
        self.feats = f


class DangerModel(torch.nn.Module):
    """Scores a window's first keyword by the mean of its first coefficient."""

    def forward_normalised(self, x):
        logits = torch.zeros(x.shape[0], len(CLASS_INDEX))
        logits[:, CLASS_INDEX["unknown"]] = 0.5
        logits[:, CLASS_INDEX[KEYWORDS[0]]] = x[:, :, 0].mean(1)
        return logits


class Mining(unittest.TestCase):
    def packed(self):
        unk, sil, kw = CLASS_INDEX["unknown"], CLASS_INDEX["silence"], CLASS_INDEX[KEYWORDS[0]]
        labels = [unk] * 20 + [sil] * 10 + [kw] * 5
        sources = ["real-speech"] * 10 + ["tts-espeak"] * 10 + ["real-noise"] * 10 + ["real"] * 5
        danger = list(range(20)) + [0] * 10 + [100] * 5  # the keyword clips must never be mined
        return FakePacked(labels, sources, danger)

    def test_mines_the_highest_scoring_negatives(self):
        d = self.packed()
        pool = HardNegatives(d, 20, np.random.default_rng(1), capacity=50)
        pool.mine(DangerModel(), np.zeros(4, np.float32), np.ones(4, np.float32), count=400, keep=40)
        self.assertEqual(len(pool), 40)
        self.assertTrue(np.all(pool.y == CLASS_INDEX["unknown"]))  # silence clips score lowest
        self.assertGreaterEqual(float(pool.x[:, :, 0].mean(1).min()), 15.0)  # only the riskiest clips
        self.assertLess(float(pool.x[:, :, 0].max()), 100.0)  # never a keyword clip
        pool.mine(DangerModel(), np.zeros(4, np.float32), np.ones(4, np.float32), count=400, keep=40)
        self.assertEqual(len(pool), 50)  # capacity keeps the hardest
        self.assertTrue(np.all(np.diff(pool.score) <= 0))  # trimmed by score, hardest first

    def test_mix_into_replaces_a_share(self):
        d = self.packed()
        rng = np.random.default_rng(2)
        pool = HardNegatives(d, 20, rng)
        pool.mine(DangerModel(), np.zeros(4, np.float32), np.ones(4, np.float32), count=200, keep=20)
        x = np.full((1000, 20, 4), -1.0, np.float32)
        y = np.full(1000, CLASS_INDEX[KEYWORDS[1]], np.int64)
        x, y = mix_into(x, y, pool, 0.25, rng)
        replaced = float((y == CLASS_INDEX["unknown"]).mean())
        self.assertTrue(0.2 < replaced < 0.3, replaced)
        self.assertTrue(np.all(x[y == CLASS_INDEX["unknown"]][:, :, 0] >= 0))
        x2, y2 = mix_into(x.copy(), y.copy(), None, 0.25, rng)  # no pool: unchanged
        self.assertTrue(np.array_equal(y2, y))

    def test_sampler_draws_real_negatives_at_the_share(self):
        d = self.packed()
        s = Sampler(d, 20, np.random.default_rng(3), class_weights={"silence": 0.0, "unknown": 0.99},
                    partial_share=0.0, real_negative_share=0.7, confusable_share=0.0)
        picks = [s._negative_pool(CLASS_INDEX["unknown"]) for _ in range(2000)]
        real = np.mean([p[0] < 10 for p in picks])  # clips 0-9 are the real speech
        self.assertTrue(0.65 < real < 0.75, real)

    def test_recent_windows_end_just_after_the_keyword(self):
        # Clip 0 is a keyword whose region is frames 10-50 of 100; windows of 60 frames.
        kw = CLASS_INDEX[KEYWORDS[0]]
        d = FakePacked([kw], ["real"], [0], length=100)
        d.feats[:, 1] = np.arange(100)  # each frame knows its index

        def ends(share):
            s = Sampler(d, 60, np.random.default_rng(4), recent_share=share)
            return {int(s._keyword_window(kw)[-1, 1]) + 1 for _ in range(300)}
        self.assertEqual(ends(1.0), set(range(52, 63)))  # 2-12 frames after the keyword's end
        self.assertEqual(ends(0.0), {60, 61, 62})  # without: at least the margin of 8 frames after it


if __name__ == "__main__":
    unittest.main()
