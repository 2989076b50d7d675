//! What a kernel is, to both backends: a named computation with a CPU implementation and a WGSL
//! entry point of the same name. Each op family (src/ops/<family>/) defines its kernels as a type
//! implementing `Kernel`; the backends know nothing about any particular one.

/// A WGSL file: its name (the shader module's label) and its source.
#[derive(Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

pub trait Kernel: std::fmt::Debug {
    /// The WGSL entry point, and the kernel's name in errors and dispatch counts.
    fn name(&self) -> &'static str;
    /// The WGSL file holding the entry point.
    fn shader(&self) -> &'static Shader;
    /// The parameter block the entry point reads as its uniform `Params` (binding 0): the bytes
    /// of the family's `#[repr(C)]` parameter struct (declared with `params_struct!`).
    fn params(&self) -> Vec<u8>;
    /// How many workgroups to dispatch.
    fn workgroups(&self) -> [u32; 3];
    /// The fast CPU path. `Device::run` has checked every buffer is on the CPU; the op sized them,
    /// so slices have exactly the lengths the kernel expects.
    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]);
}

/// Threads per workgroup of the one-thread-per-element kernels (`WORKGROUP_SIZE` in their WGSL).
pub const WORKGROUP_SIZE: usize = 256;
/// The most workgroups WebGPU allows along one dispatch dimension.
pub const MAX_GROUPS_PER_DIM: usize = 65535;

/// Enough 256-thread workgroups for `threads`, folded into two dimensions past the 65535 limit
/// (16.7M threads: a batch of 16 images at 224 px is already past it). The WGSL side unfolds it
/// as index = (group.y * groups.x + group.x) * 256 + local index.
pub fn linear_groups(threads: usize) -> [u32; 3] {
    let groups = threads.div_ceil(WORKGROUP_SIZE).max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    [x as u32, groups.div_ceil(x) as u32, 1]
}

/// A kernel parameter block's fields (name, byte offset, Rust type), for the test that checks it
/// against the WGSL `Params` struct of its shader.
pub trait ParamsLayout: bytemuck::Pod {
    const FIELDS: &'static [(&'static str, usize, &'static str)];
}

/// Declares a kernel parameter block: a `#[repr(C)]` plain-old-data struct whose bytes are the
/// WGSL `Params` uniform, field for field (u32 / f32 only; a field named `_pad..` stands for the
/// padding WGSL inserts before a vec3 or vec4).
#[macro_export]
macro_rules! params_struct {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name { $($(#[$field_meta])* pub $field: $ty),* }

        impl $crate::backend::ParamsLayout for $name {
            const FIELDS: &'static [(&'static str, usize, &'static str)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field), stringify!($ty))),*];
        }
    };
}
