//! Shapes, strides and NumPy broadcasting. Pure functions, no tensors and no devices.
//!
//! Tensors are always contiguous and row-major, so a shape alone fixes the memory layout; strides
//! appear only to describe how a broadcast operand is read (stride 0 along a broadcast axis).

use crate::error::{Error, Result};

/// The most dimensions a broadcasting kernel handles (the GPU kernels pass shapes in a fixed-size
/// uniform block). Broadcasting collapses adjacent dimensions first, so this rarely binds.
pub const MAX_RANK: usize = 8;

/// Number of elements; 1 for a scalar (shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous tensor.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// "[2, 3]": shapes are shown this way in every error message.
pub fn show(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// NumPy broadcasting: align shapes at the right; each pair of sizes must be equal or one of them 1.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let size_at = |s: &[usize], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            1
        }
    };
    (0..rank)
        .map(|i| match (size_at(a, i), size_at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(Error::shape(op, format!("shapes {} and {} cannot be broadcast together", show(a), show(b)))),
        })
        .collect()
}

/// Strides that read an operand of shape `shape` as if it had shape `out` (which it broadcasts to):
/// 0 along every axis the operand lacks or has size 1 in.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = contiguous_strides(shape);
    let offset = out.len() - shape.len();
    (0..out.len()).map(|i| if i < offset || shape[i - offset] == 1 { 0 } else { own[i - offset] }).collect()
}

/// A broadcast binary operation reduced to its simplest equivalent form: adjacent axes along which
/// both operands are laid out contiguously together are merged, so same-shape operands become rank 1.
#[derive(Clone, Debug, PartialEq)]
pub struct BroadcastPlan {
    pub out_shape: Vec<usize>,
    pub a_strides: Vec<usize>,
    pub b_strides: Vec<usize>,
}

impl BroadcastPlan {
    pub fn new(op: &str, a: &[usize], b: &[usize]) -> Result<Self> {
        let out = broadcast_shapes(op, a, b)?;
        let (sa, sb) = (broadcast_strides(a, &out), broadcast_strides(b, &out));
        // Merge axis i into the axis before it when, for both operands, stepping the outer axis
        // once is the same as stepping the inner axis through its whole length.
        let mut plan = BroadcastPlan { out_shape: vec![], a_strides: vec![], b_strides: vec![] };
        for i in 0..out.len() {
            if out[i] == 1 {
                continue; // size-1 axes never move the index
            }
            if let (Some(&n), Some(&pa), Some(&pb)) = (plan.out_shape.last(), plan.a_strides.last(), plan.b_strides.last()) {
                if pa == sa[i] * out[i] && pb == sb[i] * out[i] {
                    *plan.out_shape.last_mut().unwrap() = n * out[i];
                    *plan.a_strides.last_mut().unwrap() = sa[i];
                    *plan.b_strides.last_mut().unwrap() = sb[i];
                    continue;
                }
            }
            plan.out_shape.push(out[i]);
            plan.a_strides.push(sa[i]);
            plan.b_strides.push(sb[i]);
        }
        if plan.out_shape.is_empty() {
            plan = BroadcastPlan { out_shape: vec![1], a_strides: vec![0], b_strides: vec![0] };
        }
        if plan.out_shape.len() > MAX_RANK {
            return Err(Error::shape(op, format!("broadcasting {} with {} needs more than {MAX_RANK} dimensions", show(a), show(b))));
        }
        Ok(plan)
    }
}

/// The sizes before, at and after `axis`: the [outer, len, inner] view that axis kernels use.
pub fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

/// An axis given from either end (-1 is the last) turned into an index, or an error naming the op.
pub fn normalize_axis(op: &str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let index = if axis < 0 { axis + rank } else { axis };
    if index < 0 || index >= rank {
        return Err(Error::shape(op, format!("axis {axis} is out of range for shape {}", show(shape))));
    }
    Ok(index as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
        assert_eq!(numel(&[]), 1);
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("add", &[3, 1, 5], &[4, 1]).unwrap(), vec![3, 4, 5]);
        assert_eq!(broadcast_shapes("add", &[], &[2, 2]).unwrap(), vec![2, 2]);
        let err = broadcast_shapes("add", &[3, 2], &[3]).unwrap_err();
        assert_eq!(err.message(), "add: shapes [3, 2] and [3] cannot be broadcast together");
        assert_eq!(broadcast_strides(&[4, 1], &[3, 4, 5]), vec![0, 1, 0]);
    }

    #[test]
    fn plans_merge_contiguous_axes() {
        let same = BroadcastPlan::new("mul", &[2, 3, 4], &[2, 3, 4]).unwrap();
        assert_eq!(same.out_shape, vec![24]);
        assert_eq!((same.a_strides, same.b_strides), (vec![1], vec![1]));
        let row = BroadcastPlan::new("add", &[5, 2, 3], &[3]).unwrap();
        assert_eq!(row.out_shape, vec![10, 3]);
        assert_eq!((row.a_strides, row.b_strides), (vec![3, 1], vec![0, 1]));
        let scalar = BroadcastPlan::new("add", &[], &[]).unwrap();
        assert_eq!(scalar.out_shape, vec![1]);
    }

    #[test]
    fn axes_count_from_either_end() {
        assert_eq!(normalize_axis("sum", -1, &[2, 3]).unwrap(), 1);
        assert!(normalize_axis("sum", 2, &[2, 3]).unwrap_err().message().contains("axis 2"));
    }
}
