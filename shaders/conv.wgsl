// 2-D convolution (cross-correlation, as in PyTorch) with stride, padding and groups, and its two
// gradients. One thread per element of the tensor each kernel writes (`lanes` threads for each
// element of the weight gradient).
//
//   forward:          out[n,o,y,x]   = sum_{c in group(o), ky, kx} in[n,c,y*s-p+ky, x*s-p+kx] * w[o,c',ky,kx]
//   backward input:   din[n,c,iy,ix] = sum_{o in group(c), ky, kx; iy = y*s-p+ky} g[n,o,y,x] * w[o,c',ky,kx]
//   backward weight:  dw[o,c',ky,kx] = sum_{n, y, x} g[n,o,y,x] * in[n,c,y*s-p+ky, x*s-p+kx]
// where c' = c mod (in_channels / groups) is the channel's index within its group.

// Geometry, bindings (first, second, out) and thread_index: window_geometry.wgsl.

// Input coordinate read by output coordinate `o` at kernel offset `k`, or -1 inside the padding.
fn input_coord(o: u32, k: u32, stride: u32, pad: u32, size: u32) -> i32 {
    let i = i32(o * stride + k) - i32(pad);
    return select(-1, i, i >= 0 && i < i32(size));
}

// What is written for output channel o's sum (`Epilogue` in src/ops/matmul/mod.rs): the sum (0);
// plus the channel's bias, stored in `second` after the weights (1); that, clamped to [0, 6] (2).
fn finish(sum: f32, o: u32) -> f32 {
    if (p.epilogue == 0u) { return sum; }
    let y = sum + second[p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w + o];
    return select(y, clamp(y, 0.0, 6.0), p.epilogue == 2u);
}

// first = input, second = weight (then the epilogue's biases).
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg);
    if (i >= p.batch * p.out_channels * p.out_h * p.out_w) { return; }
    let x = i % p.out_w;
    let y = (i / p.out_w) % p.out_h;
    let o = (i / (p.out_w * p.out_h)) % p.out_channels;
    let n = i / (p.out_w * p.out_h * p.out_channels);
    let in_per_group = p.in_channels / p.groups;
    let c0 = (o / (p.out_channels / p.groups)) * in_per_group;
    var sum = 0.0;
    for (var ci = 0u; ci < in_per_group; ci++) {
        let plane = (n * p.in_channels + c0 + ci) * p.height;
        for (var ky = 0u; ky < p.kernel_h; ky++) {
            let iy = input_coord(y, ky, p.stride_h, p.pad_h, p.height);
            if (iy < 0) { continue; }
            for (var kx = 0u; kx < p.kernel_w; kx++) {
                let ix = input_coord(x, kx, p.stride_w, p.pad_w, p.width);
                if (ix < 0) { continue; }
                let w = second[((o * in_per_group + ci) * p.kernel_h + ky) * p.kernel_w + kx];
                sum += first[(plane + u32(iy)) * p.width + u32(ix)] * w;
            }
        }
    }
    out[i] = finish(sum, o);
}

// Output coordinate whose kernel offset `k` reads input coordinate `i`, or -1 when none does
// (i + pad - k must be a non-negative multiple of the stride, below the output size).
fn output_coord(i: u32, k: u32, stride: u32, pad: u32, size: u32) -> i32 {
    let shifted = i32(i + pad) - i32(k);
    if (shifted < 0 || u32(shifted) % stride != 0u) { return -1; }
    let o = u32(shifted) / stride;
    return select(-1, i32(o), o < size);
}

// first = output gradient, second = weight.
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg);
    if (i >= p.batch * p.in_channels * p.height * p.width) { return; }
    let ix = i % p.width;
    let iy = (i / p.width) % p.height;
    let c = (i / (p.width * p.height)) % p.in_channels;
    let n = i / (p.width * p.height * p.in_channels);
    let in_per_group = p.in_channels / p.groups;
    let out_per_group = p.out_channels / p.groups;
    let group = c / in_per_group;
    let ci = c % in_per_group;
    var sum = 0.0;
    for (var oo = 0u; oo < out_per_group; oo++) {
        let o = group * out_per_group + oo;
        for (var ky = 0u; ky < p.kernel_h; ky++) {
            let y = output_coord(iy, ky, p.stride_h, p.pad_h, p.out_h);
            if (y < 0) { continue; }
            for (var kx = 0u; kx < p.kernel_w; kx++) {
                let x = output_coord(ix, kx, p.stride_w, p.pad_w, p.out_w);
                if (x < 0) { continue; }
                let w = second[((o * in_per_group + ci) * p.kernel_h + ky) * p.kernel_w + kx];
                sum += first[((n * p.out_channels + o) * p.out_h + u32(y)) * p.out_w + u32(x)] * w;
            }
        }
    }
    out[i] = sum;
}

// first = input, second = output gradient. The sum over (n, y) rows, then x, of weight i is
// shared by `p.lanes` threads (a power of two, 1 to WORKGROUP_SIZE: `threads_per_output` in
// src/ops/reduce/mod.rs picks it, as for a reduction): lane l takes rows l, l + lanes, ..., then
// the lanes add their partial sums in a tree in workgroup memory. A depthwise layer has only 9
// weights per channel, each a sum over the whole batch: one thread each would leave most of a
// GPU idle while each walks N H W terms alone.
var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) t: u32) {
    let in_per_group = p.in_channels / p.groups;
    let thread = thread_index(gid, nwg);
    let i = thread / p.lanes;
    let lane = thread % p.lanes;
    let weights = p.out_channels * in_per_group * p.kernel_h * p.kernel_w;
    let kx = i % p.kernel_w;
    let ky = (i / p.kernel_w) % p.kernel_h;
    let ci = (i / (p.kernel_w * p.kernel_h)) % in_per_group;
    let o = i / (p.kernel_w * p.kernel_h * in_per_group);
    let c = (o / (p.out_channels / p.groups)) * in_per_group + ci;
    var sum = 0.0;
    if (i < weights) {
        for (var row = lane; row < p.batch * p.out_h; row += p.lanes) {
            let n = row / p.out_h;
            let y = row % p.out_h;
            let iy = input_coord(y, ky, p.stride_h, p.pad_h, p.height);
            if (iy < 0) { continue; }
            let in_row = ((n * p.in_channels + c) * p.height + u32(iy)) * p.width;
            let grad_row = ((n * p.out_channels + o) * p.out_h + y) * p.out_w;
            for (var x = 0u; x < p.out_w; x++) {
                let ix = input_coord(x, kx, p.stride_w, p.pad_w, p.width);
                if (ix < 0) { continue; }
                sum += second[grad_row + x] * first[in_row + u32(ix)];
            }
        }
    }
    // After the step with stride s, lane j < s holds the sum of lanes j, j + s, j + 2s, ...
    partial[t] = sum;
    for (var stride = p.lanes / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) { partial[t] += partial[t + stride]; }
    }
    if (lane == 0u && i < weights) { out[i] = partial[t]; }
}
