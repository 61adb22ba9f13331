"""Tests of the one list of delta sites: Go's infer.DeltaSiteNames, carried by model files
under the metadata key "delta_sites", and what train/kwt.py simulates.

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'

They read the shipped models' headers and export a tiny model into a temporary folder.
"""

import json
import os
import struct
import sys
import tempfile
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import kwt  # noqa: E402
from export import export, load_model, read_safetensors, write_safetensors  # noqa: E402

MODELS = Path(__file__).resolve().parent.parent / "models"


def metadata(path):
    """The __metadata__ of a safetensors file, its values as stored (strings)."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]).get("__metadata__", {})


class ShippedModels(unittest.TestCase):
    def test_kwt_lists_the_sites_kwt_py_simulates(self):
        meta = metadata(MODELS / "kwt.safetensors")
        self.assertIn(kwt.DELTA_SITES_KEY, meta)
        self.assertEqual(json.loads(meta[kwt.DELTA_SITES_KEY]), list(kwt.DELTA_SITES))
        self.assertEqual(kwt.delta_sites(meta), kwt.DELTA_SITES)

    def test_every_model_file(self):
        paths = sorted(p for p in MODELS.glob("*.safetensors") if not p.name.endswith(".golden.safetensors"))
        self.assertTrue(paths)
        for p in paths:
            with self.subTest(model=p.name):
                self.assertEqual(kwt.delta_sites(metadata(p)), kwt.DELTA_SITES)


class DeltaSitesKey(unittest.TestCase):
    def test_absent_is_the_code_list(self):
        self.assertEqual(kwt.delta_sites({"format": "wakewordd-kwt"}), kwt.DELTA_SITES)

    def test_decoded_or_json(self):
        self.assertEqual(kwt.delta_sites({"delta_sites": list(kwt.DELTA_SITES)}), kwt.DELTA_SITES)
        self.assertEqual(kwt.delta_sites({"delta_sites": json.dumps(list(kwt.DELTA_SITES))}), kwt.DELTA_SITES)

    def test_mismatch_names_the_key(self):
        for bad in (["qkv", "scores", "values", "out", "fc1"],
                    ["qkv", "values", "scores", "out", "fc1", "fc2"],
                    list(kwt.DELTA_SITES) + ["fc3"], "qkv", "[1]", "not json", 3):
            with self.subTest(bad=bad):
                value = bad if isinstance(bad, str) else json.dumps(bad)
                with self.assertRaisesRegex(ValueError, "'delta_sites'"):
                    kwt.delta_sites({"delta_sites": value})


class Export(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "tiny.safetensors"
        torch.manual_seed(0)
        cfg = kwt.KWTConfig(dim=8, depth=2, heads=2, mlp_dim=16, frames=6, coeffs=40, classes=3)
        model = kwt.KWT(cfg)
        feats = np.random.default_rng(0).standard_normal((2, cfg.frames, cfg.coeffs)).astype(np.float32)
        export(model, self.path, ["silence", "unknown", "alexa"], feats,
               delta={"qkv": [0.1, 0.2], "values": [0.01, 0.01]})

    def tearDown(self):
        self.tmp.cleanup()

    def test_writes_the_key_as_go_does(self):
        meta = metadata(self.path)
        self.assertEqual(meta[kwt.DELTA_SITES_KEY], '["qkv","scores","values","out","fc1","fc2"]')
        model, _ = load_model(self.path)
        self.assertEqual(model.delta_sites, kwt.DELTA_SITES)

    def test_load_refuses_other_sites(self):
        tensors, meta = read_safetensors(self.path)
        meta[kwt.DELTA_SITES_KEY] = json.dumps(list(kwt.DELTA_SITES) + ["fc3"])
        write_safetensors(self.path, tensors, meta)
        with self.assertRaisesRegex(ValueError, "tiny.safetensors: metadata 'delta_sites'"):
            load_model(self.path)

    def test_load_without_the_key(self):
        tensors, meta = read_safetensors(self.path)
        del meta[kwt.DELTA_SITES_KEY]
        write_safetensors(self.path, tensors, meta)
        model, _ = load_model(self.path)
        self.assertEqual(model.delta_sites, kwt.DELTA_SITES)
        with self.assertRaisesRegex(ValueError, "delta site 'fc3'"):
            model.set_delta({"fc3": [0.1, 0.1]})


if __name__ == "__main__":
    unittest.main()
