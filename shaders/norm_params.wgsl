// Shared by norm.wgsl, norm_eval.wgsl and norm_fold.wgsl (the loader puts this file in front of
// each): batch norm's parameter block, x viewed as [batch, channels, len]; each kernel reads the
// fields it needs (`Params` in src/ops/norm/mod.rs).

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    batch: u32,
    channels: u32,
    len: u32,
    eps: f32,
    momentum: f32,
    relu6: u32,
    group: u32,
}

