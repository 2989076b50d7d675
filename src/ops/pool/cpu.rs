//! Max pooling on the CPU.

use crate::ops::conv::ConvGeometry;
use crate::ops::reduce::cpu::largest;

pub fn max_pool2d(g: &ConvGeometry, x: &[f32], out: &mut [f32]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = x[winner(g, x, k)];
    }
}

/// Each window's gradient goes to its winner (summed where windows overlap).
pub fn max_pool2d_backward(g: &ConvGeometry, x: &[f32], grad: &[f32], dx: &mut [f32]) {
    dx.fill(0.0);
    for (k, &gv) in grad.iter().enumerate() {
        dx[winner(g, x, k)] += gv;
    }
}

/// The flat input index of the winner (largest value, see `largest`) of the pooling window of
/// output element k; padding never wins.
pub fn winner(g: &ConvGeometry, x: &[f32], k: usize) -> usize {
    let (ox, oy, plane) = (k % g.out_w, (k / g.out_w) % g.out_h, k / (g.out_w * g.out_h));
    let rows = (0..g.kernel_h).map(|ky| (oy * g.stride_h + ky) as isize - g.pad_h as isize).filter(|&iy| iy >= 0 && iy < g.height as isize);
    let window: Vec<usize> = rows
        .flat_map(|iy| {
            (0..g.kernel_w)
                .map(move |kx| (ox * g.stride_w + kx) as isize - g.pad_w as isize)
                .filter(|&ix| ix >= 0 && ix < g.width as isize)
                .map(move |ix| (plane * g.height + iy as usize) * g.width + ix as usize)
        })
        .collect();
    window[largest(window.iter().map(|&i| x[i])).1]
}
