//! Transpose, concat and slice against the reference, on the CPU and the GPU, on odd shapes
//! (transposes past 2^18 numbers are shared among threads; past 16.7M the dispatch folds).

use super::{reference, LayoutKernel};
use crate::ops::testing::{check, random, Case};

fn case(kernel: LayoutKernel, a_len: usize, b_len: usize) -> Case {
    let (a, b) = (random(a_len, 1, 0.0), random(b_len, 2, 0.0));
    let expected = reference::run(&kernel, &a, &b);
    let inputs = if b_len == 0 { vec![a] } else { vec![a, b] };
    Case::new(kernel, inputs, vec![expected], 0.0)
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (batch, rows, cols) in [(1, 1, 1), (1, 3, 5), (4, 129, 65), (300, 33, 31), (1, 4099, 4097)] {
        cases.push(case(LayoutKernel::Transpose { batch, rows, cols }, batch * rows * cols, 0));
    }
    for (outer, a_width, b_width) in [(1, 1, 1), (3, 5, 7), (65, 1, 129)] {
        cases.push(case(LayoutKernel::ConcatPair { outer, a_width, b_width }, outer * a_width, outer * b_width));
    }
    for (outer, width, start, len) in [(1, 1, 0, 1), (3, 12, 5, 7), (65, 130, 0, 129)] {
        cases.push(case(LayoutKernel::SliceColumns { outer, width, start, len }, outer * width, 0));
    }
    cases
}

#[test]
fn layout_kernels_match_the_reference() {
    check(cases());
}
