//! NumPy `.npy` files <-> wasi-nn tensors, for `nnhost run`, through the `ndarray-npy` crate:
//! a file is read into a typed [`Array`] (an `ndarray::ArrayD`) and written from one.
//!
//! Reads format versions 1-3, C order, little-endian (or byte-sized) numeric types that wasi-nn
//! has: f16, f32, f64, u8, i32, i64. bf16 has no NumPy type: it is read from f32 files on request
//! (`FILE.npy:bf16`) and written widened to f32. Everything else (bool, int8, strings, Fortran order,
//! big-endian) is an error that names the file and the reason. The bytes are bounded before the
//! crate sees them: the file by the `input_bytes` limit, the header by NumPy's own 10,000-byte
//! limit, and the data must be exactly as long as the shape says before an array is allocated.

use std::path::Path;

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::npy::header::{Header, Layout, ParseHeaderError, ReadHeaderError};
use ndarray_npy::{ReadableElement, WritableElement, WriteNpyExt};
use py_literal::Value as PyValue;

use crate::plugins::{TensorValue, WitTensorType as T};
pub use crate::tensor::Array;

#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct NpyError {
    pub file: String,
    pub reason: String,
}

/// The error for `file`, on one line (the crate's parse errors are drawings over several).
fn err(file: &Path, reason: impl Into<String>) -> NpyError {
    let reason: String = reason.into();
    NpyError { file: file.display().to_string(), reason: reason.split_whitespace().collect::<Vec<_>>().join(" ") }
}

/// Longest header read, as NumPy's `max_header_size` (its reader refuses longer ones too): the
/// header is a Python literal, and a long one is slow or deep to parse.
pub const MAX_HEADER_BYTES: usize = 10_000;

/// The NumPy descr for a wasi-nn type, and the element size.
fn descr(ty: T) -> (&'static str, usize) {
    match ty {
        T::Fp16 => ("<f2", 2),
        T::Fp32 | T::Bf16 => ("<f4", 4),
        T::Fp64 => ("<f8", 8),
        T::U8 => ("|u1", 1),
        T::I32 => ("<i4", 4),
        T::I64 => ("<i8", 8),
    }
}

fn type_of(descr: &str) -> Result<T, String> {
    Ok(match descr {
        "<f2" => T::Fp16,
        "<f4" => T::Fp32,
        "<f8" => T::Fp64,
        "|u1" | "<u1" => T::U8,
        "<i4" => T::I32,
        "<i8" => T::I64,
        "|b1" => return Err("bool tensors cannot cross wasi-nn (no bool tensor type)".into()),
        "|i1" | "<i1" => return Err("int8 tensors cannot cross wasi-nn (no i8 tensor type)".into()),
        d if d.starts_with('>') => return Err(format!("big-endian data ({d}) is not supported")),
        d if d.contains('U') || d.contains('S') || d.contains('O') => {
            return Err(format!("string/object tensors ({d}) cannot cross wasi-nn"))
        }
        d => return Err(format!("element type {d} has no wasi-nn tensor type")),
    })
}

/// The header's own length, checked against the bytes there are and [`MAX_HEADER_BYTES`] before
/// the crate allocates for it.
fn check_header_len(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        2 | 3 => return Err("truncated header".into()),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    if len > MAX_HEADER_BYTES {
        return Err(format!("a header of {len} bytes, over NumPy's limit of {MAX_HEADER_BYTES}"));
    }
    if start + len > bytes.len() {
        return Err("truncated header".into());
    }
    Ok(())
}

fn header_error(e: ReadHeaderError) -> String {
    match e {
        ReadHeaderError::Parse(ParseHeaderError::MagicString) => "not a .npy file (bad magic)".into(),
        ReadHeaderError::Parse(ParseHeaderError::Version { major, minor }) => format!("unsupported .npy version {major}.{minor}"),
        ReadHeaderError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => "truncated header".into(),
        ReadHeaderError::Parse(ParseHeaderError::DictParse(_)) => "bad header: not a Python dict literal".into(),
        ReadHeaderError::Parse(e) => format!("bad header: {e}"),
        ReadHeaderError::Io(e) => format!("cannot read the header: {e}"),
    }
}

/// `E`'s elements of `data` (exactly `count`), read by the crate as the descriptor `descr` says.
fn elements<E: ReadableElement>(data: &[u8], descr: &str, shape: IxDyn, count: usize) -> Result<ArrayD<E>, String> {
    let v = E::read_to_end_exact_vec(data, &PyValue::String(descr.into()), count).map_err(|e| format!("bad data: {e}"))?;
    ArrayD::from_shape_vec(shape, v).map_err(|e| format!("bad data: {e}"))
}

/// Parse `.npy` bytes into an array; `as_bf16` converts f32 data to bf16.
pub fn parse_array(file: &Path, bytes: &[u8], as_bf16: bool) -> Result<Array, NpyError> {
    check_header_len(bytes).map_err(|r| err(file, r))?;
    let mut data = bytes;
    let header = Header::from_reader(&mut data).map_err(|e| err(file, header_error(e)))?;
    let d = match &header.type_descriptor {
        PyValue::String(d) => d.as_str(),
        other => return Err(err(file, format!("element type {other} has no wasi-nn tensor type"))),
    };
    if header.layout == Layout::Fortran {
        return Err(err(file, "Fortran-order arrays are not supported (save with np.ascontiguousarray)"));
    }
    let ty = type_of(d).map_err(|r| err(file, r))?;
    let dims: Vec<u32> = header
        .shape
        .iter()
        .map(|&x| u32::try_from(x).map_err(|_| err(file, format!("dimension {x} in shape {:?} is over wasi-nn's 2^32", header.shape))))
        .collect::<Result<_, _>>()?;
    let (canonical, size) = descr(ty);
    let count =
        header.shape.iter().try_fold(1usize, |a, &x| a.checked_mul(x)).ok_or_else(|| err(file, format!("shape {dims:?} overflows")))?;
    let need = count.checked_mul(size).ok_or_else(|| err(file, format!("shape {dims:?} overflows")))?;
    if data.len() != need {
        return Err(err(file, format!("shape {dims:?} of {d} needs {need} data bytes, the file has {}", data.len())));
    }
    if as_bf16 && ty != T::Fp32 {
        return Err(err(file, format!("`:bf16` converts float32 arrays, this one is {d}")));
    }
    let shape = IxDyn(&header.shape);
    let array = match ty {
        // ndarray-npy has no f16: its bits are read as little-endian u16.
        T::Fp16 => elements::<u16>(data, "<u2", shape, count).map(|a| Array::F16(a.mapv(f16::from_bits))),
        T::Fp32 if as_bf16 => elements::<f32>(data, canonical, shape, count).map(|a| Array::Bf16(a.mapv(bf16::from_f32))),
        T::Fp32 | T::Bf16 => elements(data, canonical, shape, count).map(Array::F32),
        T::Fp64 => elements(data, canonical, shape, count).map(Array::F64),
        T::U8 => elements(data, canonical, shape, count).map(Array::U8),
        T::I32 => elements(data, canonical, shape, count).map(Array::I32),
        T::I64 => elements(data, canonical, shape, count).map(Array::I64),
    };
    array.map_err(|r| err(file, r))
}

/// Parse `.npy` bytes into a tensor; `as_bf16` converts f32 data to bf16.
pub fn parse(file: &Path, bytes: &[u8], as_bf16: bool) -> Result<TensorValue, NpyError> {
    parse_array(file, bytes, as_bf16)?.to_tensor().map_err(|e| err(file, e.to_string()))
}

pub fn read(path: &Path, as_bf16: bool) -> Result<TensorValue, NpyError> {
    read_limited(path, as_bf16, crate::runtime::Limits::default().input_bytes)
}

/// [`read`] of a regular file of at most `max` bytes (the `input_bytes` limit).
pub fn read_limited(path: &Path, as_bf16: bool, max: u64) -> Result<TensorValue, NpyError> {
    let bytes = crate::input::read_bounded(path, max).map_err(|e| err(path, e))?;
    parse(path, &bytes, as_bf16)
}

/// `.npy` bytes for an array (the smallest header version that fits); bf16 is widened to f32.
pub fn encode_array(a: &Array) -> Vec<u8> {
    let mut out = Vec::new();
    let written = match a {
        Array::F16(a) => write_f16(a, &mut out),
        Array::Bf16(a) => a.mapv(f32::from).write_npy(&mut out),
        Array::F32(a) => a.write_npy(&mut out),
        Array::F64(a) => a.write_npy(&mut out),
        Array::U8(a) => a.write_npy(&mut out),
        Array::I32(a) => a.write_npy(&mut out),
        Array::I64(a) => a.write_npy(&mut out),
    };
    // Writing to a Vec cannot fail, and a header of any rank wasi-nn allows fits version 2.
    written.expect("an .npy of an array into memory");
    out
}

/// ndarray-npy has no f16: the header says `<f2`, the data is the elements' bits.
fn write_f16(a: &ArrayD<f16>, out: &mut Vec<u8>) -> Result<(), ndarray_npy::WriteNpyError> {
    Header { type_descriptor: PyValue::String("<f2".into()), layout: Layout::Standard, shape: a.shape().to_vec() }.write(&mut *out)?;
    let bits: Vec<u16> = a.iter().map(|x| x.to_bits()).collect();
    u16::write_slice(&bits, out)?;
    Ok(())
}

/// `.npy` bytes for a tensor; bf16 is widened to f32.
///
/// Panics when the data does not match the dimensions; [`Array::from_tensor`] then
/// [`encode_array`] is the fallible form (plugin outputs are checked for that on return).
pub fn encode(t: &TensorValue) -> Vec<u8> {
    encode_array(&Array::from_tensor(t).expect("tensor data as long as its dimensions say"))
}

pub use crate::base::text::file_stem as safe_stem;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        for ty in [T::Fp16, T::Fp32, T::Fp64, T::U8, T::I32, T::I64] {
            let size = descr(ty).1;
            let t = TensorValue { dimensions: vec![2, 3], ty, data: (0..6 * size as u8).collect() };
            let back = parse(Path::new("x.npy"), &encode(&t), false).unwrap();
            assert_eq!(back.dimensions, t.dimensions);
            assert_eq!(back.ty, t.ty);
            assert_eq!(back.data, t.data);
        }
        let scalar = TensorValue { dimensions: vec![], ty: T::Fp32, data: 1f32.to_le_bytes().to_vec() };
        assert_eq!(parse(Path::new("s.npy"), &encode(&scalar), false).unwrap().dimensions, Vec::<u32>::new());
        let bf = TensorValue {
            dimensions: vec![2],
            ty: T::Bf16,
            data: [bf16::from_f32(1.5).to_le_bytes(), bf16::from_f32(-2.0).to_le_bytes()].concat(),
        };
        let widened = parse(Path::new("b.npy"), &encode(&bf), false).unwrap();
        assert_eq!((widened.ty, widened.data), (T::Fp32, [1.5f32.to_le_bytes(), (-2f32).to_le_bytes()].concat()));
        let narrowed = parse(Path::new("b.npy"), &encode(&bf), true).unwrap();
        assert_eq!((narrowed.ty, narrowed.data), (T::Bf16, bf.data));
    }

    /// A version 1 file as NumPy writes it: header padded with spaces to 64 bytes, then a newline.
    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        h.push_str(&" ".repeat(63 - (10 + h.len()) % 64));
        h.push('\n');
        [&b"\x93NUMPY\x01\x00"[..], &(h.len() as u16).to_le_bytes(), h.as_bytes(), data].concat()
    }

    fn reason(bytes: &[u8]) -> String {
        let e = parse(Path::new("in.npy"), bytes, false).unwrap_err();
        assert_eq!(e.file, "in.npy");
        assert!(!e.to_string().contains('\n'), "{e}");
        e.reason
    }

    #[test]
    fn numpy_files_read_as_numpy_wrote_them() {
        let f16s = npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", &[0x00, 0x3c, 0x00, 0xc0]);
        let a = parse_array(Path::new("h.npy"), &f16s, false).unwrap();
        assert_eq!(a, Array::F16(ndarray::arr1(&[f16::from_f32(1.0), f16::from_f32(-2.0)]).into_dyn()));
        let m = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", &[[5u8; 8], [0xff; 8]].concat());
        assert_eq!(
            parse_array(Path::new("m.npy"), &m, false).unwrap(),
            Array::I64(ndarray::arr2(&[[0x0505050505050505], [-1]]).into_dyn())
        );
    }

    #[test]
    fn bad_files_are_one_line_errors_that_say_why() {
        let f4 = |shape: &str| format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        assert_eq!(reason(b"PK\x03\x04 a zip file"), "not a .npy file (bad magic)");
        assert_eq!(reason(b"\x93NUMPY\x07\x00\x10\x00{}"), "unsupported .npy version 7");
        assert_eq!(reason(&npy(&f4("(2,)"), &[0; 8])[..40]), "truncated header");
        assert_eq!(reason(&npy(&f4("(2,)"), &[0; 7])), "shape [2] of <f4 needs 8 data bytes, the file has 7");
        assert_eq!(reason(&npy(&f4("(2,)"), &[0; 9])), "shape [2] of <f4 needs 8 data bytes, the file has 9");
        assert!(reason(&npy(&f4("(4294967296,)"), &[])).contains("over wasi-nn's 2^32"));
        // A shape of 2^62 elements is refused by its length, never allocated.
        assert!(reason(&npy(&f4("(2147483648, 2147483648)"), &[])).contains("overflows"));
        assert!(reason(&npy(&f4("(65536, 65536)"), &[0; 16])).contains("needs 17179869184 data bytes, the file has 16"));
        assert!(reason(&npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", &[0; 8])).starts_with("Fortran-order"));
        assert_eq!(
            reason(&npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", &[0; 8])),
            "big-endian data (>f4) is not supported"
        );
        assert!(reason(&npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", &[0; 24])).starts_with("string/object tensors"));
        assert!(reason(&npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", &[0; 8]))
            .contains("has no wasi-nn tensor type"));
        assert!(reason(&npy("{'descr': '<f4', 'shape': (2,), }", &[0; 8])).starts_with("bad header: "));
        assert!(reason(&npy("not a dict at all", &[])).starts_with("bad header: "));
        let e = parse(Path::new("i.npy"), &npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", &[0; 4]), true).unwrap_err();
        assert_eq!(e.reason, "`:bf16` converts float32 arrays, this one is <i4");
        // Headers are bounded before they are read: a version 2 header that claims 4 GiB.
        assert!(reason(b"\x93NUMPY\x02\x00\xff\xff\xff\xff{").contains("over NumPy's limit of 10000"));
        let deep = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {}2{}, }}", "(".repeat(4000), ")".repeat(4000));
        let mut v2 = npy(&deep, &[]);
        v2.splice(6..10, [2, 0, 0, 0, 0, 0]);
        let len = v2.len() - 12;
        v2[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        assert!(reason(&v2).starts_with("bad header: "), "{}", reason(&v2));
    }

    #[test]
    fn safe_stems() {
        assert_eq!(safe_stem("logits"), "logits");
        assert_eq!(safe_stem("../etc/passwd"), "_._etc_passwd");
        assert_eq!(safe_stem("a/b:c"), "a_b_c");
        assert_eq!(safe_stem(""), "output");
        assert_eq!(safe_stem(".."), "_.");
    }
}
