//! Plain-loop references of the layout kernels, for tests only.

use super::LayoutKernel;

pub fn run(kernel: &LayoutKernel, a: &[f32], b: &[f32]) -> Vec<f32> {
    match *kernel {
        LayoutKernel::Transpose { batch, rows, cols } => {
            let mut out = vec![0.0; batch * rows * cols];
            for p in 0..batch {
                for r in 0..rows {
                    for c in 0..cols {
                        out[(p * cols + c) * rows + r] = a[(p * rows + r) * cols + c];
                    }
                }
            }
            out
        }
        LayoutKernel::ConcatPair { outer, a_width, b_width } => {
            (0..outer).flat_map(|o| a[o * a_width..][..a_width].iter().chain(&b[o * b_width..][..b_width]).copied()).collect()
        }
        LayoutKernel::SliceColumns { outer, width, start, len } => {
            (0..outer).flat_map(|o| a[o * width + start..][..len].to_vec()).collect()
        }
    }
}
