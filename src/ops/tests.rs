//! Checks across the op families: each WGSL `Params` struct matches its Rust parameter struct,
//! and every WGSL entry point is run by some kernel test (on the GPU as on the CPU).

use std::collections::BTreeSet;

use naga::{AddressSpace, ScalarKind, TypeInner};

use super::testing::Case;
use super::FAMILIES;

/// Each family's kernel cases (their own #[test] runs them on both devices).
const CASES: &[fn() -> Vec<Case>] = &[
    super::elementwise::tests::cases,
    super::reduce::tests::cases,
    super::matmul::tests::cases,
    super::layout::tests::cases,
    super::conv::tests::cases,
    super::pool::tests::cases,
    super::norm::tests::cases,
    super::softmax::tests::cases,
    super::image::tests::cases,
    super::update::tests::cases,
];

fn parse(name: &str, source: &str) -> naga::Module {
    naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(source)))
}

#[test]
fn every_params_struct_matches_its_wgsl_twin() {
    for family in FAMILIES {
        let name = family.shader.name;
        let module = parse(name, family.shader.source);
        let uniform = module.global_variables.iter().map(|(_, v)| v).find(|v| v.space == AddressSpace::Uniform);
        let uniform = uniform.unwrap_or_else(|| panic!("{name}.wgsl has no uniform Params"));
        let TypeInner::Struct { members, span } = &module.types[uniform.ty].inner else { panic!("{name}.wgsl: Params is not a struct") };
        // The padding fields stand for gaps WGSL leaves by itself.
        let rust: Vec<_> = family.params_fields.iter().filter(|(field, ..)| !field.starts_with("_pad")).collect();
        assert_eq!(rust.len(), members.len(), "{name}: Rust has fields {rust:?}, WGSL {} members", members.len());
        for (&&(field, offset, ty), member) in rust.iter().zip(members) {
            assert_eq!(Some(field), member.name.as_deref(), "{name}: fields in a different order");
            assert_eq!(offset as u32, member.offset, "{name}.{field}: Rust offset {offset}, WGSL {}", member.offset);
            let kind = match &module.types[member.ty].inner {
                TypeInner::Scalar(s) => s.kind,
                TypeInner::Vector { scalar, .. } => scalar.kind,
                TypeInner::Array { base, .. } => match &module.types[*base].inner {
                    TypeInner::Scalar(s) => s.kind,
                    TypeInner::Vector { scalar, .. } => scalar.kind,
                    other => panic!("{name}.{field}: unexpected array of {other:?}"),
                },
                other => panic!("{name}.{field}: unexpected type {other:?}"),
            };
            let expected = match kind {
                ScalarKind::Uint => "u32",
                ScalarKind::Float => "f32",
                other => panic!("{name}.{field}: unexpected scalar {other:?}"),
            };
            assert!(ty.contains(expected), "{name}.{field}: Rust {ty}, WGSL {expected}");
        }
        // WGSL rounds a struct's size up to its alignment (at most 16 bytes).
        let size = family.params_size as u32;
        assert!(size <= *span && *span <= size.next_multiple_of(16), "{name}: Rust size {size}, WGSL span {span}");
    }
}

#[test]
fn every_wgsl_entry_point_has_a_kernel_test() {
    let entry_points: BTreeSet<String> =
        FAMILIES.iter().flat_map(|f| parse(f.shader.name, f.shader.source).entry_points.into_iter().map(|e| e.name)).collect();
    let tested: BTreeSet<String> = CASES.iter().flat_map(|cases| cases()).map(|case| case.kernel.name().to_string()).collect();
    let untested: Vec<_> = entry_points.difference(&tested).collect();
    assert!(untested.is_empty(), "entry points no kernel test runs: {untested:?}");
    let unknown: Vec<_> = tested.difference(&entry_points).collect();
    assert!(unknown.is_empty(), "kernels whose entry point no WGSL file has: {unknown:?}");
}
