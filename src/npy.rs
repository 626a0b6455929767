//! NumPy `.npy` files <-> wasi-nn tensors, for `nnhost run`.
//!
//! Reads format versions 1-3, C order, little-endian (or byte-sized) numeric types that wasi-nn
//! has: f16, f32, f64, u8, i32, i64. bf16 has no NumPy type: it is read from f32 files on request
//! (`FILE.npy:bf16`) and written widened to f32. Everything else (bool, int8, strings, Fortran order,
//! big-endian) is an error that names the file and the reason.

use std::path::Path;

use crate::plugins::{TensorValue, WitTensorType as T};

#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct NpyError {
    pub file: String,
    pub reason: String,
}

fn err(file: &Path, reason: impl Into<String>) -> NpyError {
    NpyError { file: file.display().to_string(), reason: reason.into() }
}

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

/// Value of `'key': value` in the header dict (value up to the next top-level comma).
fn header_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        Some(&rest[..=end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

/// Parse `.npy` bytes into a tensor; `as_bf16` converts f32 data to bf16.
pub fn parse(file: &Path, bytes: &[u8], as_bf16: bool) -> Result<TensorValue, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(err(file, "not a .npy file (bad magic)"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(err(file, format!("unsupported .npy version {v}"))),
    };
    let end = start.checked_add(header_len).filter(|e| *e <= bytes.len()).ok_or_else(|| err(file, "truncated header"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| err(file, "header is not text"))?;
    let d = header_field(header, "descr").ok_or_else(|| err(file, "header has no descr"))?.trim_matches(['\'', '"']);
    if header_field(header, "fortran_order") == Some("True") {
        return Err(err(file, "Fortran-order arrays are not supported (save with np.ascontiguousarray)"));
    }
    let shape_text = header_field(header, "shape").ok_or_else(|| err(file, "header has no shape"))?;
    let dims = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().map_err(|_| err(file, format!("bad dimension `{s}` in shape {shape_text}"))))
        .collect::<Result<Vec<u32>, _>>()?;
    let ty = type_of(d).map_err(|r| err(file, r))?;
    let count =
        dims.iter().try_fold(1usize, |a, &x| a.checked_mul(x as usize)).ok_or_else(|| err(file, format!("shape {dims:?} overflows")))?;
    let size = descr(ty).1;
    let data = &bytes[end..];
    let need = count.checked_mul(size).ok_or_else(|| err(file, format!("shape {dims:?} overflows")))?;
    if data.len() != need {
        return Err(err(file, format!("shape {dims:?} of {d} needs {need} data bytes, the file has {}", data.len())));
    }
    if as_bf16 {
        if ty != T::Fp32 {
            return Err(err(file, format!("`:bf16` converts float32 arrays, this one is {d}")));
        }
        let out =
            data.chunks_exact(4).flat_map(|c| half::bf16::from_f32(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes()).collect();
        return Ok(TensorValue { dimensions: dims, ty: T::Bf16, data: out });
    }
    Ok(TensorValue { dimensions: dims, ty, data: data.to_vec() })
}

pub fn read(path: &Path, as_bf16: bool) -> Result<TensorValue, NpyError> {
    read_limited(path, as_bf16, crate::runtime::Limits::default().input_bytes)
}

/// [`read`] of a regular file of at most `max` bytes (the `input_bytes` limit).
pub fn read_limited(path: &Path, as_bf16: bool, max: u64) -> Result<TensorValue, NpyError> {
    let bytes = crate::input::read_bounded(path, max).map_err(|e| err(path, e))?;
    parse(path, &bytes, as_bf16)
}

/// `.npy` (version 1) bytes for a tensor; bf16 is widened to f32.
pub fn encode(t: &TensorValue) -> Vec<u8> {
    let (d, _) = descr(t.ty);
    let shape = match t.dimensions.len() {
        1 => format!("({},)", t.dimensions[0]),
        _ => format!("({})", t.dimensions.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{d}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.data.len() * 2);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    if t.ty == T::Bf16 {
        for c in t.data.chunks_exact(2) {
            out.extend_from_slice(&half::bf16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes());
        }
    } else {
        out.extend_from_slice(&t.data);
    }
    out
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
