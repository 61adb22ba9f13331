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

from export import write_safetensors  # noqa: E402
from soup import soup  # noqa: E402


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
        self.assertEqual(training["soup"], ["a.safetensors", "b.safetensors", "c.safetensors"])

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


if __name__ == "__main__":
    unittest.main()
