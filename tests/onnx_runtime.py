"""Runs kiln's ONNX export in ONNX Runtime and compares with kiln's own predictions.

    python tests/onnx_runtime.py DIR

DIR (written by tests/onnx.rs) holds model.onnx, model.json (kiln's description of the model),
images.f32 (the validation photos, preprocessed: float32 [n, 3, size, size], little-endian) and
kiln's logits.f32 and probabilities.f32 for them ([n, classes]). Exits non-zero when ONNX Runtime's
outputs differ from kiln's by more than 1e-4, or the model's metadata from the description.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-4


def main(folder):
    description = json.loads((folder / "model.json").read_text())
    classes, size = len(description["vocab"]), description["image_size"]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])

    metadata = session.get_modelmeta().custom_metadata_map
    assert json.loads(metadata["vocab"]) == description["vocab"], metadata["vocab"]
    assert int(metadata["image_size"]) == size, metadata["image_size"]
    assert json.loads(metadata["normalization"]) == description["normalization"], metadata["normalization"]
    assert f"shorter side is {size} px" in metadata["preprocessing"], metadata["preprocessing"]
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]

    images = np.fromfile(folder / "images.f32", dtype="<f4").reshape(-1, 3, size, size)
    logits, probabilities = session.run(None, {"image": images})
    failures = []
    for name, ours in [("logits", logits), ("probabilities", probabilities)]:
        kiln = np.fromfile(folder / f"{name}.f32", dtype="<f4").reshape(-1, classes)
        difference = float(np.abs(ours - kiln).max())
        print(f"{name}: {len(images)} validation photos x {classes} classes, "
              f"max |ONNX Runtime - kiln| = {difference:.2e} (tolerance {TOLERANCE:g})")
        if not difference <= TOLERANCE:
            failures.append(name)
    same = int((logits.argmax(1) == np.fromfile(folder / "logits.f32", dtype="<f4").reshape(-1, classes).argmax(1)).sum())
    print(f"same predicted class for {same} of {len(images)} photos (onnxruntime {ort.__version__})")
    if failures:
        sys.exit(f"ONNX Runtime's {' and '.join(failures)} differ from kiln's by more than {TOLERANCE:g}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
