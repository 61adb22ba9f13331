"""Tests of train/soup.py.

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'
"""

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import kwt  # noqa: E402
from export import export, golden_path, load_model, read_safetensors, write_safetensors  # noqa: E402
from soup import soup, write_golden  # noqa: E402


class Soup(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def file(self, name, tensors, meta=None):
        p = str(Path(self.dir.name) / name)
        write_safetensors(p, tensors, meta)
        return p

    def test_mean_of_every_tensor_and_the_first_files_metadata(self):
        a = self.file("a.safetensors", {"w": np.array([1.0, 2.0]), "b": np.array([[0.0]])},
                      {"detection": {"threshold": 0.9}, "training": {"steps": 5}})
        b = self.file("b.safetensors", {"w": np.array([3.0, 6.0]), "b": np.array([[1.0]])},
                      {"detection": {"threshold": 0.1}})
        c = self.file("c.safetensors", {"w": np.array([5.0, 1.0]), "b": np.array([[2.0]])})
        out, meta = soup([a, b, c])
        np.testing.assert_allclose(out["w"], [3.0, 3.0])
        np.testing.assert_allclose(out["b"], [[1.0]])
        self.assertEqual(json.loads(meta["detection"]), {"threshold": 0.9})
        training = json.loads(meta["training"])
        self.assertEqual(training["steps"], 5)
        self.assertEqual([v.split(" ")[0] for v in training["soup"]], ["a.safetensors", "b.safetensors", "c.safetensors"])
        self.assertEqual(len({v.split(" ")[-1] for v in training["soup"]}), 3)

    def test_other_tensors_or_shapes_are_refused_by_name(self):
        a = self.file("a.safetensors", {"w": np.zeros(2)})
        b = self.file("b.safetensors", {"v": np.zeros(2)})
        c = self.file("c.safetensors", {"w": np.zeros(3)})
        with self.assertRaisesRegex(ValueError, "b.safetensors holds other tensors"):
            soup([a, b])
        with self.assertRaisesRegex(ValueError, "tensor w has shape"):
            soup([a, c])
        with self.assertRaisesRegex(ValueError, "at least two"):
            soup([a])

    def test_golden_vectors_of_the_soup_are_its_own(self):
        cfg = kwt.KWTConfig(dim=8, depth=2, heads=2, mlp_dim=16, frames=6, coeffs=40, classes=3)
        feats = np.random.default_rng(0).standard_normal((3, cfg.frames, cfg.coeffs)).astype(np.float32)
        delta = {"qkv": [0.3, 0.3], "values": [0.01, 0.01]}
        paths = []
        for seed in (0, 1):
            torch.manual_seed(seed)
            paths.append(str(Path(self.dir.name) / f"m{seed}.safetensors"))
            export(kwt.KWT(cfg), paths[-1], ["silence", "unknown", "alexa"], feats, delta=delta)
        out = str(Path(self.dir.name) / "soup.safetensors")
        write_safetensors(out, *soup(paths))
        write_golden(out, golden_path(paths[0]))
        g, gmeta = read_safetensors(golden_path(out))
        m0, _ = read_safetensors(golden_path(paths[0]))
        np.testing.assert_array_equal(g["features"], feats)
        self.assertEqual(gmeta["model"], "soup.safetensors")
        self.assertEqual(json.loads(gmeta["delta"])["sites"], delta)
        model, _ = load_model(out)
        model.eval()
        with torch.no_grad():
            np.testing.assert_allclose(g["logits"], model(torch.from_numpy(feats)).numpy(), atol=1e-5)
            model.set_delta(delta)
            np.testing.assert_allclose(g["delta_logits"], model(torch.from_numpy(feats)).numpy(), atol=1e-5)
        # Not the first model's vectors carried over.
        self.assertGreater(float(np.abs(g["logits"] - m0["logits"]).max()), 1e-3)


if __name__ == "__main__":
    unittest.main()
