//! ONNX backend conformance (issue: no case lost through the sandbox, never a silently wrong
//! number): the `onnx` wheel's 1,800+ node test cases through `nnhost run` on every backend and
//! through ONNX Runtime and OpenVINO alone, checked against tests/conformance/expect-*.toml by
//! tests/conformance/conformance.py. Runs beside the other tests, on the binary cargo built.

use crate::util::python_check;

#[test]
fn onnx_node_tests_match_the_expectation_files() {
    let Some(out) = python_check("tests/conformance/conformance.py", "onnx, onnxruntime, openvino", &["--check"]) else { return };
    for backend in ["tract", "onnxruntime", "openvino"] {
        assert!(out.contains(&format!("conformance: {backend}: ")), "no result for {backend}");
    }
}

/// DynamicQuantizeLinear (and its function body inlined) at rounding ties on OpenVINO: nnhost never
/// exits 0 with a wrong uint8, and for the operator refuses exactly the values OpenVINO alone gets
/// wrong (the script's docstring says how).
#[test]
fn quantization_ties_on_openvino_are_refused_not_wrong() {
    let Some(out) = python_check("tests/conformance/quantize_ties.py", "onnx, openvino", &[]) else { return };
    for model in ["DynamicQuantizeLinear", "inlined function body"] {
        let line =
            out.lines().find(|l| l.starts_with(&format!("quantize ties: {model}: "))).unwrap_or_else(|| panic!("no result for {model}"));
        assert!(line.contains(" 0 wrong;"), "{line}");
    }
}
