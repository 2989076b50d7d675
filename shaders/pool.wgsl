// Max pooling over k x k windows with stride and padding (padding never wins: PyTorch pads with
// -inf), and its gradient. A window's winner is its largest value, the first in row-major order
// on ties, a NaN counting as largest (NaN propagates, as in PyTorch).
//   max_pool2d:          out[n,c,y,x] = max over the window of in[n,c, y*s-p+ky, x*s-p+kx]
//   max_pool2d_backward: din[n,c,i,j] = sum of g[n,c,y,x] over the windows whose winner is (i, j)

// Geometry, bindings and thread_index: window_geometry.wgsl. first = input; second = output
// gradient (backward).

// By its bits (exponent all ones, mantissa not zero): shader compilers may assume v != v is false.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Flat input index of the winner of window (y, x) in plane `plane` (= n * channels + c).
fn window_winner(plane: u32, y: u32, x: u32) -> u32 {
    var best = 0.0;
    var best_index = 0xffffffffu;
    for (var ky = 0u; ky < p.kernel_h; ky++) {
        let iy = i32(y * p.stride_h + ky) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.height)) { continue; }
        for (var kx = 0u; kx < p.kernel_w; kx++) {
            let ix = i32(x * p.stride_w + kx) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.width)) { continue; }
            let index = (plane * p.height + u32(iy)) * p.width + u32(ix);
            let v = first[index];
            if (best_index == 0xffffffffu || (!is_nan(best) && (v > best || is_nan(v)))) {
                best = v;
                best_index = index;
            }
        }
    }
    return best_index;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg);
    if (i >= p.batch * p.in_channels * p.out_h * p.out_w) { return; }
    let x = i % p.out_w;
    let y = (i / p.out_w) % p.out_h;
    let plane = i / (p.out_w * p.out_h);
    out[i] = first[window_winner(plane, y, x)];
}

// First and last output coordinate whose window covers input coordinate i (last < first: none).
fn covering(i: u32, kernel: u32, stride: u32, pad: u32, size: u32) -> vec2<i32> {
    let shifted = i32(i + pad);
    let lowest = max(0, (shifted - i32(kernel) + i32(stride)) / i32(stride)); // ceil((shifted-kernel+1)/stride)
    let highest = min(i32(size) - 1, shifted / i32(stride));
    return vec2<i32>(lowest, highest);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg);
    if (i >= p.batch * p.in_channels * p.height * p.width) { return; }
    let ix = i % p.width;
    let iy = (i / p.width) % p.height;
    let plane = i / (p.width * p.height);
    let rows = covering(iy, p.kernel_h, p.stride_h, p.pad_h, p.out_h);
    let cols = covering(ix, p.kernel_w, p.stride_w, p.pad_w, p.out_w);
    var sum = 0.0;
    for (var y = rows.x; y <= rows.y; y++) {
        for (var x = cols.x; x <= cols.y; x++) {
            if (window_winner(plane, u32(y), u32(x)) == i) {
                sum += second[(plane * p.out_h + u32(y)) * p.out_w + u32(x)];
            }
        }
    }
    out[i] = sum;
}
