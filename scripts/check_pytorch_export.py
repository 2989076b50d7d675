#!/usr/bin/env python3
"""Checks that kiln's safetensors export opens in PyTorch and predicts what kiln predicts.

    cargo test --test onnx                      # writes target/tmp/onnx-export/
    python3 scripts/check_pytorch_export.py [DIR]

Not part of the test command: it needs PyTorch, torchvision, fastai and safetensors (gigabytes).
DIR (default target/tmp/onnx-export, written by tests/onnx.rs) holds a briefly trained model's
model.safetensors and model.json, the validation photos as kiln preprocessed them (images.f32,
float32 [n, 3, size, size]) and kiln's logits.f32 and probabilities.f32 for them ([n, classes]).
The weights load with load_state_dict(strict=True) into torchvision's mobilenet_v2().features
followed by fastai's create_head, the model README.md shows; the predictions must match kiln's
within 1e-4, as ONNX Runtime's do in tests/onnx_runtime.py. (kiln's file has no BatchNorm
num_batches_tracked counters: PyTorch fills them in when a plain dict is loaded, even strictly.)
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from fastai.vision.learner import create_head
from safetensors.torch import load_file
from torchvision.models import mobilenet_v2

TOLERANCE = 1e-4


def main(folder):
    vocab = json.loads((folder / "model.json").read_text())["vocab"]
    # README.md's three lines.
    model = torch.nn.Sequential(mobilenet_v2().features, create_head(1280, len(vocab))).eval()
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)

    size = json.loads((folder / "model.json").read_text())["image_size"]
    images = torch.from_numpy(np.fromfile(folder / "images.f32", dtype="<f4").reshape(-1, 3, size, size))
    with torch.no_grad():
        logits = model(images)
    failures = []
    for name, ours in [("logits", logits), ("probabilities", logits.softmax(1))]:
        kiln = np.fromfile(folder / f"{name}.f32", dtype="<f4").reshape(-1, len(vocab))
        difference = float(np.abs(ours.numpy() - kiln).max())
        print(f"{name}: {len(images)} validation photos x {len(vocab)} classes, "
              f"max |PyTorch - kiln| = {difference:.2e} (tolerance {TOLERANCE:g})")
        if not difference <= TOLERANCE:
            failures.append(name)
    if failures:
        sys.exit(f"PyTorch's {' and '.join(failures)} differ from kiln's by more than {TOLERANCE:g}")


if __name__ == "__main__":
    if len(sys.argv) > 2 or sys.argv[1:2] in (["-h"], ["--help"]):
        sys.exit(__doc__)
    main(Path(sys.argv[1] if len(sys.argv) == 2 else "target/tmp/onnx-export"))
