//! fastai's `aug_transforms` (v2): per training image, a random flip, rotation, zoom and
//! perspective warp composed into ONE homography, so the image is resampled once (bilinear,
//! reflection padding), and a random change of brightness and contrast on logits. Parameters come
//! from kiln's seeded `Pcg32`, so a seed gives the same augmentation natively and in wasm; the
//! resampling is `Tensor::augment` (shaders/image.wgsl).
//!
//! Coordinates are fastai's (affine_grid and grid_sample with align_corners=True): x across the
//! width, y down the height, both in [-1, 1], -1 and 1 being the centres of the end pixels. A
//! matrix maps an output position to the position it reads: source = warp(affine(output)), with
//! affine = flip · rotate · zoom (fastai multiplies its affine matrices in that order).

use crate::error::{Error, Result};
use crate::ops::image::AUGMENT_PARAMS;
use crate::rng::Pcg32;

/// fastai's aug_transforms settings; `Default` gives fastai's defaults, which Lesson 2 uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugTransforms {
    /// Mirror left-right with probability 0.5 (switch off for digits and letters).
    pub do_flip: bool,
    /// With do_flip, fastai's Dihedral instead: with probability 0.5 one of the 8 symmetries of
    /// the square (k ~ U{0..7}), vertical flips and quarter turns included, for top-down photos.
    pub flip_vert: bool,
    /// Rotation by U(-max_rotate, max_rotate) degrees.
    pub max_rotate: f32,
    /// Zoom by U(min_zoom, max_zoom) (above 1 zooms in) about a random centre.
    pub min_zoom: f32,
    pub max_zoom: f32,
    /// Brightness b ~ U(0.5 (1 - m), 0.5 (1 + m)), contrast exp(U(ln(1 - m), -ln(1 - m))).
    pub max_lighting: f32,
    /// Perspective warp: corners move by up to max_warp along each axis (the image spans 2).
    pub max_warp: f32,
    /// Probability of each of rotation, zoom, horizontal and vertical warp, drawn separately.
    pub p_affine: f32,
    /// Probability of each of brightness and contrast, drawn separately.
    pub p_lighting: f32,
}

impl Default for AugTransforms {
    fn default() -> Self {
        AugTransforms {
            do_flip: true,
            flip_vert: false,
            max_rotate: 10.0,
            min_zoom: 1.0,
            max_zoom: 1.1,
            max_lighting: 0.2,
            max_warp: 0.2,
            p_affine: 0.75,
            p_lighting: 0.75,
        }
    }
}

/// What was drawn for one image. Transforms not applied keep fastai's neutral values (which give
/// the identity exactly); lighting not applied is None, since its logit round trip is not exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageAugmentation {
    /// fastai's dihedral index, 0..=7: 0 unchanged, 1 mirrored left-right (x -> -x), 2 upside
    /// down, 4 half turn, 3 and 5 quarter turns, 6 and 7 transposes.
    pub dihedral: usize,
    /// Rotation in degrees.
    pub rotate: f32,
    /// Zoom factor, and where the zoom centre lies along x and y (0 and 1: at the edges).
    pub zoom: f32,
    pub zoom_centre: [f32; 2],
    /// Perspective warp magnitudes (fastai's x_t, y_t).
    pub warp: [f32; 2],
    /// Brightness b in (0, 1): logit(b) is added to every logit.
    pub brightness: Option<f32>,
    /// Contrast: every logit is multiplied by it.
    pub contrast: Option<f32>,
}

impl Default for ImageAugmentation {
    /// No change at all.
    fn default() -> Self {
        ImageAugmentation {
            dihedral: 0,
            rotate: 0.0,
            zoom: 1.0,
            zoom_centre: [0.5, 0.5],
            warp: [0.0, 0.0],
            brightness: None,
            contrast: None,
        }
    }
}

/// A 3 x 3 matrix, row-major, acting on homogeneous coordinates (x, y, 1).
type Matrix = [f64; 9];

impl AugTransforms {
    /// Errors on settings that cannot be drawn from (a negative range, a probability outside
    /// [0, 1], lighting of 1 or more whose logits are infinite).
    pub fn check(&self) -> Result<()> {
        let fail = |detail: String| Err(Error::new("aug_transforms", detail));
        let probability = |p: f32| (0.0..=1.0).contains(&p);
        if ![self.max_rotate, self.max_warp].iter().all(|v| v.is_finite() && *v >= 0.0) {
            return fail(format!("max_rotate {} and max_warp {} must be finite and not negative", self.max_rotate, self.max_warp));
        }
        if !(self.min_zoom > 0.0 && self.min_zoom <= self.max_zoom && self.max_zoom.is_finite()) {
            return fail(format!("zoom needs 0 < min_zoom <= max_zoom, got {} and {}", self.min_zoom, self.max_zoom));
        }
        if !(0.0..1.0).contains(&self.max_lighting) {
            return fail(format!("max_lighting must be in [0, 1), got {}", self.max_lighting));
        }
        if !probability(self.p_affine) || !probability(self.p_lighting) {
            return fail(format!("p_affine {} and p_lighting {} must be in [0, 1]", self.p_affine, self.p_lighting));
        }
        Ok(())
    }

    /// Draws one image's augmentation, transform by transform in fastai's order (flip, warp,
    /// rotate, zoom, brightness, contrast). Every enabled transform takes the same number of
    /// draws whether or not it applies, so one image's luck never shifts the next image's.
    pub fn draw(&self, rng: &mut Pcg32) -> Result<ImageAugmentation> {
        self.check()?;
        let mut drawn = ImageAugmentation::default();
        if self.do_flip {
            let flipped = rng.uniform() < 0.5;
            let k = if self.flip_vert { (rng.uniform() * 8.0) as usize } else { 1 };
            drawn.dihedral = if flipped { k } else { 0 };
        }
        if self.max_warp > 0.0 {
            for magnitude in &mut drawn.warp {
                *magnitude = maybe(rng, self.p_affine, -self.max_warp, self.max_warp).unwrap_or(0.0);
            }
        }
        if self.max_rotate > 0.0 {
            drawn.rotate = maybe(rng, self.p_affine, -self.max_rotate, self.max_rotate).unwrap_or(0.0);
        }
        if self.min_zoom < 1.0 || self.max_zoom > 1.0 {
            drawn.zoom = maybe(rng, self.p_affine, self.min_zoom, self.max_zoom).unwrap_or(1.0);
            drawn.zoom_centre = [rng.uniform(), rng.uniform()];
        }
        if self.max_lighting > 0.0 {
            let m = self.max_lighting;
            drawn.brightness = maybe(rng, self.p_lighting, 0.5 * (1.0 - m), 0.5 * (1.0 + m));
            drawn.contrast = maybe(rng, self.p_lighting, (1.0 - m).ln(), -(1.0 - m).ln()).map(f32::exp);
        }
        Ok(drawn)
    }
}

/// With probability p, a draw from U(lo, hi). Both numbers are always drawn.
fn maybe(rng: &mut Pcg32, p: f32, lo: f32, hi: f32) -> Option<f32> {
    let applies = rng.uniform() < p;
    let value = lo + (hi - lo) * rng.uniform();
    applies.then_some(value)
}

impl ImageAugmentation {
    /// The homography in normalised coordinates: output (x, y) reads the source at (X / W, Y / W)
    /// with (X, Y, W) = H (x, y, 1). A warp whose denominator W would reach 0 on the image is
    /// left out, as fastai's apply_perspective leaves it out when W hits 0.
    pub fn homography(&self) -> Matrix {
        let (xs, ys, m0, m1) = DIHEDRAL[self.dihedral];
        let flip = [xs * m0, xs * m1, 0.0, ys * m1, ys * m0, 0.0, 0.0, 0.0, 1.0];
        let (sin, cos) = (self.rotate as f64).to_radians().sin_cos();
        let rotate = [cos, sin, 0.0, -sin, cos, 0.0, 0.0, 0.0, 1.0];
        // fastai's zoom_mat: scale s = 1 / zoom about centre c = (1 - s)(2u - 1) per axis.
        let s = 1.0 / self.zoom as f64;
        let [cx, cy] = self.zoom_centre.map(|u| (1.0 - s) * (2.0 * u as f64 - 1.0));
        let zoom = [s, 0.0, cx, 0.0, s, cy, 0.0, 0.0, 1.0];
        let affine = multiply(&multiply(&flip, &rotate), &zoom);
        let warped = multiply(&warp(self.warp), &affine);
        let corners = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
        // W is linear in (x, y): positive at the corners, positive on the whole image.
        let sound = warped.iter().all(|v| v.is_finite()) && corners.iter().all(|&(x, y)| warped[6] * x + warped[7] * y + warped[8] > 0.0);
        if sound {
            warped
        } else {
            affine
        }
    }

    /// The parameter row of `Tensor::augment` for a height x width image: the homography moved
    /// to pixel coordinates (pixel i of n <-> -1 + 2i / (n - 1)), then the lighting.
    pub fn params(&self, height: usize, width: usize) -> [f32; AUGMENT_PARAMS] {
        // Half a side in pixels; a single pixel sits at -1, as in torch.linspace(-1, 1, 1).
        let (half_x, half_y) = ((width - 1) as f64 / 2.0, (height - 1) as f64 / 2.0);
        let inverse = |half: f64| if half > 0.0 { 1.0 / half } else { 0.0 };
        let to_normalised = [inverse(half_x), 0.0, -1.0, 0.0, inverse(half_y), -1.0, 0.0, 0.0, 1.0];
        let to_pixels = [half_x, 0.0, half_x, 0.0, half_y, half_y, 0.0, 0.0, 1.0];
        let h = multiply(&multiply(&to_pixels, &self.homography()), &to_normalised);
        let mut row = [0.0; AUGMENT_PARAMS];
        row.iter_mut().zip(&h).for_each(|(r, &v)| *r = v as f32);
        row[9] = (self.brightness.is_some() || self.contrast.is_some()) as u8 as f32;
        row[10] = self.brightness.map_or(0.0, |b| (b as f64 / (1.0 - b as f64)).ln() as f32);
        row[11] = self.contrast.unwrap_or(1.0);
        row
    }
}

/// fastai's dihedral_mat tables: (xs, ys, m0, m1) per index; the matrix is
/// [[xs m0, xs m1], [ys m1, ys m0]].
const DIHEDRAL: [(f64, f64, f64, f64); 8] = [
    (1.0, 1.0, 1.0, 0.0),
    (-1.0, 1.0, 1.0, 0.0),
    (1.0, -1.0, 1.0, 0.0),
    (-1.0, 1.0, 0.0, 1.0),
    (-1.0, -1.0, 1.0, 0.0),
    (1.0, -1.0, 0.0, 1.0),
    (1.0, 1.0, 0.0, 1.0),
    (-1.0, -1.0, 0.0, 1.0),
];

/// fastai's _WarpCoord: the corners orig = (-1,-1), (-1,1), (1,-1), (1,1) are matched with
/// targ = (-1-y, -1-x), (-1+y, 1+x), (1+y, -1+x), (1-y, 1-x), and the warp is the homography
/// taking targ to orig (find_coeffs(orig, targ), its last entry fixed at 1).
fn warp([x, y]: [f32; 2]) -> Matrix {
    let (x, y) = (x as f64, y as f64);
    let orig = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]];
    let targ = [[-1.0 - y, -1.0 - x], [-1.0 + y, 1.0 + x], [1.0 + y, -1.0 + x], [1.0 - y, 1.0 - x]];
    // o = (c0 t0 + c1 t1 + c2, c3 t0 + c4 t1 + c5) / (c6 t0 + c7 t1 + 1), multiplied out: two
    // linear equations in c0..c7 per corner, written as rows [coefficients | right-hand side].
    let mut system = [[0.0; 9]; 8];
    for (i, (o, t)) in orig.iter().zip(&targ).enumerate() {
        system[2 * i] = [t[0], t[1], 1.0, 0.0, 0.0, 0.0, -o[0] * t[0], -o[0] * t[1], o[0]];
        system[2 * i + 1] = [0.0, 0.0, 0.0, t[0], t[1], 1.0, -o[1] * t[0], -o[1] * t[1], o[1]];
    }
    let c = solve(system);
    [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], 1.0]
}

/// Gaussian elimination with partial pivoting of an 8 x 8 system given as [A | b] rows.
fn solve(mut m: [[f64; 9]; 8]) -> [f64; 8] {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).expect("rows remain");
        m.swap(col, pivot);
        let pivot_row = m[col];
        for row in &mut m[col + 1..] {
            let factor = row[col] / pivot_row[col];
            row.iter_mut().zip(&pivot_row).skip(col).for_each(|(v, &p)| *v -= factor * p);
        }
    }
    let mut x = [0.0; 8];
    for row in (0..8).rev() {
        let known: f64 = (row + 1..8).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][8] - known) / m[row][row];
    }
    x
}

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    std::array::from_fn(|k| {
        let (i, j) = (k / 3, k % 3);
        (0..3).map(|l| a[3 * i + l] * b[3 * l + j]).sum()
    })
}
