#!/usr/bin/env python3
"""Reference fixtures for kiln's conv2d and batch-norm ops, computed independently with numpy.

Run from the repository root:  python3 scripts/make_fixtures.py
Writes tests/fixtures/conv.json and tests/fixtures/batch_norm.json.  Deterministic: all
random tensors come from np.random.default_rng(0), drawn in a fixed order.

Number format.  Every *input* tensor (input, weight, bias, upstream, running stats) is drawn,
rounded to float32, and written as the exact decimal of that float32 value (so it parses to
the same bits as f32 or f64).  All arithmetic is then done in float64 and *results* (output,
gradients, updated running stats) are written as float64 (Python repr, round-trips).
Tensors are flat lists in row-major (C) order next to their `*_shape`.

Every gradient is for the scalar loss  L = sum(output * upstream)  where `upstream` is a
stored random tensor of the output's shape, so dL/doutput = upstream.  Gradients are derived
analytically and the script asserts they match central finite differences in float64.

conv.json - a list of cases, PyTorch F.conv2d semantics (cross-correlation, no bias):
  x: [N, C, H, W], w: [O, C/groups, KH, KW], stride (sh, sw), zero padding (ph, pw), groups g.
  xp = x zero-padded by ph rows top+bottom and pw columns left+right
  Ho = (H + 2 ph - KH) // sh + 1,  Wo = (W + 2 pw - KW) // sw + 1
  out channel o belongs to group q = o // (O/g); its input channels are q*(C/g) + c, c < C/g
  y[n,o,i,j]  = sum_{c,a,b} w[o,c,a,b] * xp[n, q*(C/g)+c, i*sh+a, j*sw+b]
  grad_weight[o,c,a,b] = sum_{n,i,j} up[n,o,i,j] * xp[n, q*(C/g)+c, i*sh+a, j*sw+b]
  grad_xp[n, q*(C/g)+c, i*sh+a, j*sw+b] += sum_o up[n,o,i,j] * w[o,c,a,b];  grad_input =
  grad_xp with the padding cropped off.
  Cases: plain_3x3, depthwise_stride2, grouped_unequal_stride_padding, pointwise_1x1.
  Keys: name, input, input_shape, weight, weight_shape, stride, padding, groups, output,
  output_shape, upstream, grad_input, grad_weight.

batch_norm.json - an object with three cases, PyTorch BatchNorm semantics:
  "bn2d_train" (x [4,3,5,5] = normal*2+1) and "bn1d_train" (x [6,4]): training mode.
    Statistics per channel over every axis except 1; m = number of values per channel
    (N*H*W for 2-D, N for 1-D).
    mean = sum(x)/m,  var = sum((x-mean)^2)/m  (BIASED, used for normalising)
    xhat = (x-mean)/sqrt(var+eps),  y = weight*xhat + bias
    running_mean' = (1-momentum)*running_mean + momentum*mean
    running_var'  = (1-momentum)*running_var  + momentum*var*m/(m-1)   (UNBIASED)
    starting from running_mean = 0, running_var = 1; eps = 1e-5, momentum = 0.1.
    grad_bias   = sum(up),  grad_weight = sum(up*xhat)        (per channel)
    grad_input  = weight/sqrt(var+eps) * (up - mean(up) - xhat*mean(up*xhat))
    Keys: input, input_shape, weight, bias, eps, momentum, running_mean_in, running_var_in,
    output, running_mean, running_var, upstream, grad_input, grad_weight, grad_bias.
  "bn2d_eval" (x [2,3,4,4]): eval mode with the stored running_mean/running_var:
    y = (x - running_mean)/sqrt(running_var+eps)*weight + bias.
    Keys: input, input_shape, weight, bias, eps, running_mean, running_var, output.
"""
import json
import os

import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
rng = np.random.default_rng(0)


def f32(a):
    """Round to float32 and go back to float64: the exact values the tests will feed in."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def randn(*shape, scale=1.0, shift=0.0):
    return f32(rng.standard_normal(shape) * scale + shift)


# ----------------------------------------------------------------------------- conv2d
def conv_out_hw(x_shape, w_shape, stride, padding):
    (_, _, h, w), (_, _, kh, kw) = x_shape, w_shape
    return (h + 2 * padding[0] - kh) // stride[0] + 1, (w + 2 * padding[1] - kw) // stride[1] + 1


def tap(xp, a, b, ho, wo, stride):
    """xp[:, :, i*sh+a, j*sw+b] for all output positions (i, j): shape [N, C, Ho, Wo]."""
    return xp[:, :, a:a + stride[0] * (ho - 1) + 1:stride[0], b:b + stride[1] * (wo - 1) + 1:stride[1]]


def conv2d(x, w, stride, padding, groups):
    n, c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    ho, wo = conv_out_hw(x.shape, w.shape, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    y = np.zeros((n, o, ho, wo))
    for q in range(groups):
        for a in range(kh):
            for b in range(kw):
                xs = tap(xp, a, b, ho, wo, stride)[:, q * cg:(q + 1) * cg]          # [N, cg, Ho, Wo]
                y[:, q * og:(q + 1) * og] += np.einsum("oc,ncij->noij", w[q * og:(q + 1) * og, :, a, b], xs)
    return y


def conv2d_backward(x, w, up, stride, padding, groups):
    """Analytic gradients of L = sum(conv2d(x, w) * up): the adjoint of the forward loops."""
    o, cg, kh, kw = w.shape
    og = o // groups
    ho, wo = up.shape[2:]
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph,) * 2, (pw,) * 2))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for q in range(groups):
        ups = up[:, q * og:(q + 1) * og]                                            # [N, og, Ho, Wo]
        for a in range(kh):
            for b in range(kw):
                xs = tap(xp, a, b, ho, wo, stride)[:, q * cg:(q + 1) * cg]
                gw[q * og:(q + 1) * og, :, a, b] = np.einsum("noij,ncij->oc", ups, xs)
                gtap = tap(gxp, a, b, ho, wo, stride)                                # a view: += writes through
                gtap[:, q * cg:(q + 1) * cg] += np.einsum("noij,oc->ncij", ups, w[q * og:(q + 1) * og, :, a, b])
    gx = gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return gx, gw


# ----------------------------------------------------------------------------- batch norm
def bn_train(x, weight, bias, eps):
    axes = tuple(i for i in range(x.ndim) if i != 1)
    bshape = [1, -1] + [1] * (x.ndim - 2)                 # broadcast a per-channel vector
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(bshape)) ** 2).mean(axis=axes)            # biased
    xhat = (x - mean.reshape(bshape)) / np.sqrt(var + eps).reshape(bshape)
    y = weight.reshape(bshape) * xhat + bias.reshape(bshape)
    return y, mean, var, xhat


def bn_train_backward(x, weight, bias, eps, up):
    axes = tuple(i for i in range(x.ndim) if i != 1)
    bshape = [1, -1] + [1] * (x.ndim - 2)
    _, _, var, xhat = bn_train(x, weight, bias, eps)
    gb = up.sum(axis=axes)
    gw = (up * xhat).sum(axis=axes)
    mean_up = up.mean(axis=axes).reshape(bshape)
    mean_up_xhat = (up * xhat).mean(axis=axes).reshape(bshape)
    gx = (weight / np.sqrt(var + eps)).reshape(bshape) * (up - mean_up - xhat * mean_up_xhat)
    return gx, gw, gb


# ----------------------------------------------------------------------------- finite differences
def check_grad(loss, arr, analytic, name, h=1e-6, rtol=1e-6):
    """Assert analytic == central difference (loss(arr+h e_k) - loss(arr-h e_k)) / 2h, every k."""
    num = np.zeros_like(arr)
    for k in range(arr.size):
        orig = arr.flat[k]
        arr.flat[k] = orig + h
        lp = loss()
        arr.flat[k] = orig - h
        lm = loss()
        arr.flat[k] = orig
        num.flat[k] = (lp - lm) / (2 * h)
    err = np.max(np.abs(num - analytic)) / max(1.0, np.max(np.abs(analytic)))
    assert err < rtol, f"{name}: finite-difference mismatch {err:.3g}"
    print(f"  {name}: analytic vs finite differences, max rel err {err:.2g}")


# ----------------------------------------------------------------------------- JSON output
def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def dump(path, obj):
    """JSON with one key per line and number lists kept on one line."""
    def enc(v, ind):
        pad = " " * ind
        if isinstance(v, dict):
            items = [f'{pad}  {json.dumps(k)}: {enc(x, ind + 2)}' for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list) and v and isinstance(v[0], dict):
            return "[\n" + ",\n".join(pad + "  " + enc(x, ind + 2) for x in v) + "\n" + pad + "]"
        return json.dumps(v)
    with open(path, "w") as f:
        f.write(enc(obj, 0) + "\n")
    print(f"wrote {os.path.relpath(path)}")


def conv_case(name, x_shape, w_shape, stride, padding, groups):
    x, w = randn(*x_shape), randn(*w_shape)
    y = conv2d(x, w, stride, padding, groups)
    up = randn(*y.shape)
    gx, gw = conv2d_backward(x, w, up, stride, padding, groups)
    print(f"conv {name}: output {list(y.shape)}")
    loss = lambda: float(np.sum(conv2d(x, w, stride, padding, groups) * up))
    check_grad(loss, x, gx, "grad_input")
    check_grad(loss, w, gw, "grad_weight")
    return {"name": name, "input": flat(x), "input_shape": list(x_shape), "weight": flat(w),
            "weight_shape": list(w_shape), "stride": list(stride), "padding": list(padding),
            "groups": groups, "output": flat(y), "output_shape": list(y.shape), "upstream": flat(up),
            "grad_input": flat(gx), "grad_weight": flat(gw)}


def bn_train_case(name, x_shape, scale, shift, eps=1e-5, momentum=0.1):
    c = x_shape[1]
    x = randn(*x_shape, scale=scale, shift=shift)
    weight, bias = randn(c, scale=0.5, shift=1.0), randn(c, scale=0.5)
    rm0, rv0 = np.zeros(c), np.ones(c)
    y, mean, var, _ = bn_train(x, weight, bias, eps)
    m = x.size // c
    rm = (1 - momentum) * rm0 + momentum * mean
    rv = (1 - momentum) * rv0 + momentum * var * m / (m - 1)      # unbiased variance
    up = randn(*x_shape)
    gx, gw, gb = bn_train_backward(x, weight, bias, eps, up)
    print(f"batch norm {name}: input {list(x_shape)}, {m} values per channel")
    loss = lambda: float(np.sum(bn_train(x, weight, bias, eps)[0] * up))
    check_grad(loss, x, gx, "grad_input")
    check_grad(loss, weight, gw, "grad_weight")
    check_grad(loss, bias, gb, "grad_bias")
    return {"input": flat(x), "input_shape": list(x_shape), "weight": flat(weight), "bias": flat(bias),
            "eps": eps, "momentum": momentum, "running_mean_in": flat(rm0), "running_var_in": flat(rv0),
            "output": flat(y), "running_mean": flat(rm), "running_var": flat(rv), "upstream": flat(up),
            "grad_input": flat(gx), "grad_weight": flat(gw), "grad_bias": flat(gb)}


def bn_eval_case(x_shape, eps=1e-5):
    c = x_shape[1]
    x = randn(*x_shape)
    weight, bias = randn(c, scale=0.5, shift=1.0), randn(c, scale=0.5)
    rm = randn(c, scale=0.5)
    rv = f32(rng.uniform(0.5, 2.0, c))
    b = [1, -1, 1, 1]
    y = (x - rm.reshape(b)) / np.sqrt(rv + eps).reshape(b) * weight.reshape(b) + bias.reshape(b)
    return {"input": flat(x), "input_shape": list(x_shape), "weight": flat(weight), "bias": flat(bias),
            "eps": eps, "running_mean": flat(rm), "running_var": flat(rv), "output": flat(y)}


def self_test_conv():
    """One hand-checkable value: y[0,0,0,0] as an explicit sum, to catch an indexing slip."""
    x, w = randn(1, 2, 4, 4), randn(2, 1, 3, 3)
    y = conv2d(x, w, (2, 1), (1, 1), 2)
    want = sum(w[1, 0, a, b] * x[0, 1, a - 1, b - 1] for a in range(1, 3) for b in range(1, 3))
    assert abs(y[0, 1, 0, 0] - want) < 1e-12


def lr_find_case():
    """A synthetic lr_find record and fastai's four suggestions for it, computed here with
    fastai 2.x's formulas (callback/schedule.py): the curve is cut to rec[num_it // 10 : -5]
    first (num_it = 100), as fastai's LRFinder.plot and suggest functions do."""
    num_it = 100
    lrs = 1e-7 * (10 / 1e-7) ** (np.arange(num_it) / num_it)
    x = np.log10(lrs)
    # A loss that is flat, falls steeply around lr 1e-3, bottoms out near 1e-1, then explodes,
    # with a deterministic wiggle so the decreasing runs are not trivial.
    losses = 2.5 - 1.2 / (1 + np.exp(-(x + 3.0) * 2.2)) + 0.08 * np.exp(2.0 * (x + 1.0)) + 0.01 * np.sin(7 * x)
    lrs, losses = f32(lrs), f32(losses)  # the exact numbers the Rust test reads
    lrs_cut, losses_cut = lrs[num_it // 10 : -5], losses[num_it // 10 : -5]
    minimum = lrs_cut[np.argmin(losses_cut)] / 10
    grads = (losses_cut[1:] - losses_cut[:-1]) / (np.log(lrs_cut[1:]) - np.log(lrs_cut[:-1]))
    steep = lrs_cut[np.argmin(grads)]
    n = len(losses_cut)
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses_cut[i] < losses_cut[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
    max_end = int(np.argmax(lds))
    max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    valley = lrs_cut[max_start + int(sections) + int(sections / 2)]
    gradient = np.gradient(losses_cut)
    r, l = -1, -16
    slide = lrs_cut[l]
    while l >= -n and abs(gradient[r] - gradient[l]) > 0.005:
        slide = lrs_cut[l]
        r -= 1
        l -= 1
    return {"lrs": flat(lrs), "losses": flat(losses), "minimum": float(minimum), "steep": float(steep),
            "valley": float(valley), "slide": float(slide)}


def cmyk_jpeg(path):
    """A 4x2 CMYK JPEG (Pillow writes Adobe CMYK): left half pure red (C=0, M=Y=255, K=0),
    right half pure blue (C=M=255, Y=0, K=0). Decoders must turn it into RGB."""
    from PIL import Image

    image = Image.new("CMYK", (4, 2), (0, 255, 255, 0))
    image.paste((255, 255, 0, 0), (2, 0, 4, 2))
    image.save(path, quality=100)


if __name__ == "__main__":
    os.makedirs(OUT_DIR, exist_ok=True)
    cmyk_jpeg(os.path.join(OUT_DIR, "images", "cmyk.jpg"))
    self_test_conv()
    cases = [
        conv_case("plain_3x3", (2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 1), 1),
        conv_case("depthwise_stride2", (2, 4, 7, 7), (4, 1, 3, 3), (2, 2), (1, 1), 4),
        conv_case("grouped_unequal_stride_padding", (1, 6, 5, 8), (4, 3, 2, 3), (1, 2), (0, 1), 2),
        conv_case("pointwise_1x1", (2, 8, 3, 3), (5, 8, 1, 1), (1, 1), (0, 0), 1),
    ]
    dump(os.path.join(OUT_DIR, "conv.json"), cases)
    bn = {
        "bn2d_train": bn_train_case("bn2d_train", (4, 3, 5, 5), scale=2.0, shift=1.0),
        "bn1d_train": bn_train_case("bn1d_train", (6, 4), scale=1.0, shift=0.0),
        "bn2d_eval": bn_eval_case((2, 3, 4, 4)),
    }
    dump(os.path.join(OUT_DIR, "batch_norm.json"), bn)
    dump(os.path.join(OUT_DIR, "lr_find.json"), lr_find_case())
