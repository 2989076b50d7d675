#!/usr/bin/env python3
"""PyTorch's figures for the shapes `cargo bench --bench speed` times, for side-by-side ratios.

    python3 benches/pytorch_speed.py --device cuda --batch 32 --sizes 128,224 --matmul 1024,2048,4096

MobileNetV2 (torchvision, random weights) with fastai's head (concat pooling, BatchNorm1d,
Dropout, Linear 2560 -> 512 without bias, ReLU, BatchNorm1d, Dropout, Linear 512 -> 5 without
bias), every parameter trainable, AdamW (lr 1e-3, weight decay 0.01: fastai's Adam), cross-entropy
on random images and labels: a training step and inference, images/s. Matmul: n x n @ n x n,
GFLOP/s. FP32 throughout: TF32 is switched off, eager mode (no compile, no CUDA graphs). Medians
of repeated runs after a warm-up; each timed run ends with a synchronisation. Prints one JSON
object with the keys the Rust bench uses (train128, infer128, ..., matmul1024, ...).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn
import torchvision

CLASSES = 5


def fastai_head(features: int) -> nn.Module:
    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)], 1)

    return nn.Sequential(
        ConcatPool(), nn.Flatten(),
        nn.BatchNorm1d(2 * features), nn.Dropout(0.25), nn.Linear(2 * features, 512, bias=False), nn.ReLU(),
        nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, CLASSES, bias=False),
    )


def median_seconds(run, device, budget=10.0, max_runs=20):
    """Median seconds of run() after one warm-up, at least 3 runs, as many as fit the budget."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    run()
    sync()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < max_runs):
        t = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", default="128,224")
    parser.add_argument("--matmul", default="256,512,1024")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = {}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        model = nn.Sequential(torchvision.models.mobilenet_v2().features, fastai_head(1280)).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        images = torch.randn(args.batch, 3, size, size, device=device)
        labels = torch.randint(0, CLASSES, (args.batch,), device=device)

        def train_step():
            model.train()
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()

        def infer():
            model.eval()
            with torch.no_grad():
                model(images)

        rows[f"train{size}"] = args.batch / median_seconds(train_step, device, 15.0, 10)
        rows[f"infer{size}"] = args.batch / median_seconds(infer, device)
    for n in [int(s) for s in args.matmul.split(",") if s]:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        rows[f"matmul{n}"] = 2 * n**3 / median_seconds(lambda: a @ b, device, 3.0, 50) / 1e9
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(json.dumps({"backend": f"PyTorch {torch.__version__}, {name}", "batch": args.batch,
                      **{k: round(v, 3) for k, v in rows.items()}}))


if __name__ == "__main__":
    main()
