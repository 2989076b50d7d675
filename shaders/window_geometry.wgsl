// Shared by conv.wgsl and pool.wgsl (the loader puts this file in front of each): the geometry
// of a sliding-window operation, its bindings, and the thread numbering.
//   input [batch, in_channels, height, width] -> output [batch, out_channels, out_h, out_w],
//   out = (in + 2 pad - kernel) / stride + 1; pooling has out_channels = in_channels.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    batch: u32, in_channels: u32, height: u32, width: u32,
    out_channels: u32, kernel_h: u32, kernel_w: u32, stride_h: u32,
    stride_w: u32, pad_h: u32, pad_w: u32, groups: u32,
    out_h: u32, out_w: u32,
    epilogue: u32, // the convolution's forward kernel only: `finish` in conv.wgsl
    lanes: u32,    // the convolution's weight gradient only: threads per weight
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> first: array<f32>;
@group(0) @binding(2) var<storage, read> second: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Workgroups may be laid out in two dimensions when there are more than 65535 of them.
fn thread_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP_SIZE;
}
