#!/usr/bin/env python3
"""Independent numpy reference for torchvision's MobileNetV2 (eval mode) on two test photos.

Run from the repository root:  python3 scripts/reference_mobilenet.py   (needs numpy, Pillow)
Reads  www/models/mobilenet_v2.safetensors  (torchvision mobilenet_v2 state dict, float32) and
tests/fixtures/images/{eagle,dog}.jpg; writes tests/fixtures/mobilenet_reference.json with, per
image: the preprocessing facts, top-5 ImageNet-1k class indices with softmax probabilities, and
all 1000 logits rounded to 6 significant digits.  Deterministic (no randomness at all).

Preprocessing = torchvision Resize(256) + CenterCrop(224) + ToTensor + Normalize on a PIL image:
  decode with Pillow, ImageOps.exif_transpose (both photos have orientation 1), convert("RGB");
  resize so the SHORTER side is 256: (short, long) -> (256, int(256 * long / short)), using
  Image.BILINEAR (Pillow's bilinear filter, which widens its support = antialiases on downscale);
  centre crop 224x224: top = int(round((h - 224) / 2.0)), left = int(round((w - 224) / 2.0))
  (Python round = round-half-to-even, as torchvision);
  x = uint8 / 255 in float32, then (x - mean) / std per channel with
  mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225); layout CHW, batch of 1.
The network itself is evaluated in float64.

Architecture (torchvision MobileNetV2, width 1.0, no conv biases, conv padding (k-1)//2):
  ConvBNReLU6(k, s):  y = min(max(BN(conv_k,s(x)), 0), 6)
  BN (eval):          y = (x - running_mean) / sqrt(running_var + 1e-5) * weight + bias
  features.0          = ConvBNReLU6(3 -> 32, 3x3, stride 2)
  features.1..17      = InvertedResidual blocks from (t, c, n, s) = [1,16,1,1], [6,24,2,2],
                        [6,32,3,2], [6,64,4,2], [6,96,3,1], [6,160,3,2], [6,320,1,1]
                        (n blocks of c output channels; the first has stride s, the rest 1)
    block(in -> out, t, stride), hidden = in * t:
      t != 1: conv.0 = ConvBNReLU6(in -> hidden, 1x1)
      depthwise ConvBNReLU6(hidden -> hidden, 3x3, stride, groups = hidden)  (conv.1, or conv.0 if t == 1)
      conv.2 / conv.1 = 1x1 conv hidden -> out, conv.3 / conv.2 = BN, no activation
      y = x + that  if stride == 1 and in == out, else just that
  features.18         = ConvBNReLU6(320 -> 1280, 1x1)
  global average pool over H, W -> [1280]; classifier.0 Dropout (identity in eval);
  classifier.1        = Linear(1280 -> 1000): logits = W @ v + b
  probabilities       = softmax(logits) = exp(l - max l) / sum exp(l - max l)
"""
import hashlib
import json
import os
import re
import struct
import sys

import numpy as np
import PIL
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
WEIGHTS = os.path.join(ROOT, "www", "models", "mobilenet_v2.safetensors")
IMAGES = ["eagle", "dog"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RESIZE, CROP, BN_EPS = 256, 224, 1e-5
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def read_safetensors(path):
    """{name: float64 array}.  Layout: u64 LE header length n, n bytes of JSON header
    {name: {dtype, shape, data_offsets: [begin, end]}} (offsets relative to the data), then data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        b, e = info["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return tensors


# ----------------------------------------------------------------------------- preprocessing
def preprocess(path):
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")   # rotate first: convert may drop EXIF
    w, h = img.size
    if w <= h:
        size = (RESIZE, int(RESIZE * h / w))
    else:
        size = (int(RESIZE * w / h), RESIZE)
    img = img.resize(size, Image.BILINEAR)                 # (width, height)
    top = int(round((size[1] - CROP) / 2.0))
    left = int(round((size[0] - CROP) / 2.0))
    img = img.crop((left, top, left + CROP, top + CROP))
    x = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255)     # HWC in [0, 1]
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    facts = {"file_sha256": sha, "pillow_version": PIL.__version__, "exif_orientation_applied": True,
             "original_size_wh": [w, h], "resized_size_wh": list(size), "crop_top": top, "crop_left": left,
             "crop_size": CROP, "resample": "PIL.Image.BILINEAR", "mean": list(MEAN), "std": list(STD),
             "layout": "NCHW [1, 3, 224, 224], RGB"}
    return x.transpose(2, 0, 1)[None].astype(np.float64), facts           # [1, 3, 224, 224]


# ----------------------------------------------------------------------------- layers
def pad_hw(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv(x, w, stride):
    """Dense conv (groups = 1), padding (k-1)//2.  im2col: cols[n, i, j, c*k*k] then one matmul
    y[n, o, i, j] = sum_{c,a,b} w[o, c, a, b] * xp[n, c, i*s + a, j*s + b]."""
    o, c, k, _ = w.shape
    if k == 1 and stride == 1:
        return np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x, optimize=True)
    xp = pad_hw(x, (k - 1) // 2)
    n, _, hp, wp = xp.shape
    ho, wo = (hp - k) // stride + 1, (wp - k) // stride + 1
    taps = [xp[:, :, a:a + stride * (ho - 1) + 1:stride, b:b + stride * (wo - 1) + 1:stride]
            for a in range(k) for b in range(k)]              # each [n, c, ho, wo]
    cols = np.stack(taps, axis=2).reshape(n, c * k * k, ho * wo)   # index c*k*k + a*k + b
    y = w.reshape(o, c * k * k) @ cols                              # [n, o, ho*wo]
    return y.reshape(n, o, ho, wo)


def depthwise(x, w, stride):
    """groups = channels, w [c, 1, 3, 3]:  y[n,c,i,j] = sum_{a,b} w[c,0,a,b] * xp[n,c,i*s+a,j*s+b]."""
    k = w.shape[2]
    xp = pad_hw(x, (k - 1) // 2)
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    y = np.zeros((x.shape[0], x.shape[1], ho, wo))
    for a in range(k):
        for b in range(k):
            y += w[None, :, 0, a, b, None, None] * xp[:, :, a:a + stride * (ho - 1) + 1:stride,
                                                          b:b + stride * (wo - 1) + 1:stride]
    return y


def bn(x, p, prefix):
    scale = p[prefix + ".weight"] / np.sqrt(p[prefix + ".running_var"] + BN_EPS)
    shift = p[prefix + ".bias"] - p[prefix + ".running_mean"] * scale
    return x * scale[None, :, None, None] + shift[None, :, None, None]


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def conv_bn_relu6(x, p, prefix, stride, dw=False):
    """torchvision Conv2dNormActivation: prefix.0 = conv, prefix.1 = BN, then ReLU6."""
    w = p[prefix + ".0.weight"]
    y = depthwise(x, w, stride) if dw else conv(x, w, stride)
    return relu6(bn(y, p, prefix + ".1"))


def inverted_residual(x, p, prefix, inp, out, t, stride):
    h, i = x, 0
    if t != 1:
        h = conv_bn_relu6(h, p, f"{prefix}.conv.0", 1)
        i = 1
    h = conv_bn_relu6(h, p, f"{prefix}.conv.{i}", stride, dw=True)
    h = bn(conv(h, p[f"{prefix}.conv.{i + 1}.weight"], 1), p, f"{prefix}.conv.{i + 2}")
    return x + h if stride == 1 and inp == out else h


def mobilenet_v2(x, p):
    """x [n, 3, 224, 224] -> logits [n, 1000]."""
    x = conv_bn_relu6(x, p, "features.0", 2)
    inp, idx = 32, 1
    for t, c, n, s in SETTINGS:
        for r in range(n):
            x = inverted_residual(x, p, f"features.{idx}", inp, c, t, s if r == 0 else 1)
            inp, idx = c, idx + 1
    x = conv_bn_relu6(x, p, "features.18", 1)
    v = x.mean(axis=(2, 3))                                   # global average pool -> [n, 1280]
    return v @ p["classifier.1.weight"].T + p["classifier.1.bias"]


class Params(dict):
    """The weights dict, remembering which names the forward pass read (to catch a mis-wired block)."""
    def __init__(self, d):
        super().__init__(d)
        self.used = set()

    def __getitem__(self, k):
        self.used.add(k)
        return super().__getitem__(k)


def softmax(l):
    e = np.exp(l - l.max())
    return e / e.sum()


def main():
    if not os.path.exists(WEIGHTS):
        sys.exit(f"missing {WEIGHTS}")
    p = Params(read_safetensors(WEIGHTS))
    result = {"model": "torchvision mobilenet_v2 IMAGENET1K_V1 (mobilenet_v2-b0353104.pth), eval mode",
              "weights": "www/models/mobilenet_v2.safetensors", "computed_in": "float64 (numpy)",
              "logits_rounding": "6 significant digits", "images": {}}
    for name in IMAGES:
        x, facts = preprocess(os.path.join(ROOT, "tests", "fixtures", "images", name + ".jpg"))
        logits = mobilenet_v2(x, p)[0]
        assert p.used == set(p), f"unused weights: {sorted(set(p) - p.used)[:5]}"
        facts["input_channel_means"] = [float(m) for m in x[0].mean(axis=(1, 2))]   # to debug a port
        prob = softmax(logits)
        top = np.argsort(-prob)[:5]
        print(f"{name}: " + ", ".join(f"{i} {prob[i]:.4f}" for i in top))
        result["images"][name] = {
            "file": f"tests/fixtures/images/{name}.jpg", "preprocessing": facts,
            "top5_indices": [int(i) for i in top], "top5_probabilities": [float(prob[i]) for i in top],
            "logits": [float(f"{v:.6g}") for v in logits]}
    out = os.path.join(ROOT, "tests", "fixtures", "mobilenet_reference.json")
    text = json.dumps(result, indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(out, "w") as f:                               # (number lists kept on one line)
        f.write(text + "\n")
    print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
