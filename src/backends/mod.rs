//! Inference backends behind wasmtime-wasi-nn's public backend traits.
//!
//! Each engine lives in its own file and implements `BackendInner` / `BackendGraph` /
//! `BackendExecutionContext`. This module holds what they share: which backends exist, and the
//! checks every tensor crossing the guest/host boundary goes through before an engine sees it.

pub mod tract;

use std::fmt;
use std::str::FromStr;

use wasmtime_wasi_nn::backend::BackendError;
use wasmtime_wasi_nn::wit::TensorType;
use wasmtime_wasi_nn::Tensor;

/// The inference engines nnhost can run a model on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// tract: pure Rust, embedded, always available (the default).
    Tract,
}

impl BackendKind {
    pub const ALL: &'static [BackendKind] = &[BackendKind::Tract];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
        }
    }

    /// A fresh wasmtime-wasi-nn backend object for one store.
    pub fn instantiate(self) -> wasmtime_wasi_nn::Backend {
        match self {
            BackendKind::Tract => tract::TractBackend::default().into(),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = BackendKind::ALL.iter().map(|b| b.name()).collect();
                format!("unknown backend `{s}` (known: {})", names.join(", "))
            })
    }
}

/// Lower-case wasi-nn name of a tensor type, as used in messages and manifests.
pub fn type_name(ty: TensorType) -> &'static str {
    match ty {
        TensorType::Fp16 => "f16",
        TensorType::Fp32 => "f32",
        TensorType::Fp64 => "f64",
        TensorType::Bf16 => "bf16",
        TensorType::U8 => "u8",
        TensorType::I32 => "i32",
        TensorType::I64 => "i64",
    }
}

/// Parse a manifest/CLI tensor type name.
pub fn parse_type(s: &str) -> Option<TensorType> {
    Some(match s.to_ascii_lowercase().as_str() {
        "f16" | "fp16" | "float16" => TensorType::Fp16,
        "f32" | "fp32" | "float32" | "float" => TensorType::Fp32,
        "f64" | "fp64" | "float64" | "double" => TensorType::Fp64,
        "bf16" | "bfloat16" => TensorType::Bf16,
        "u8" | "uint8" => TensorType::U8,
        "i32" | "int32" => TensorType::I32,
        "i64" | "int64" => TensorType::I64,
        _ => return None,
    })
}

/// Bytes per element of a wasi-nn tensor type.
pub fn type_size(ty: TensorType) -> usize {
    match ty {
        TensorType::U8 => 1,
        TensorType::Fp16 | TensorType::Bf16 => 2,
        TensorType::Fp32 | TensorType::I32 => 4,
        TensorType::Fp64 | TensorType::I64 => 8,
    }
}

/// Largest rank nnhost accepts for a tensor.
pub const MAX_RANK: usize = 16;

/// Check a guest-supplied tensor before any engine sees it: rank, an overflow-checked element
/// count, and a data length that matches dimensions and type. Returns the element count.
pub fn check_tensor(name: &str, t: &Tensor) -> Result<usize, BackendError> {
    if t.dimensions.len() > MAX_RANK {
        return Err(invalid(format!("tensor `{name}` has rank {}, more than {MAX_RANK}", t.dimensions.len())));
    }
    let count = t
        .dimensions
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .ok_or_else(|| invalid(format!("tensor `{name}`: dimensions {:?} overflow", t.dimensions)))?;
    let bytes = count
        .checked_mul(type_size(t.ty))
        .ok_or_else(|| invalid(format!("tensor `{name}`: dimensions {:?} overflow", t.dimensions)))?;
    if bytes != t.data.len() {
        return Err(invalid(format!(
            "tensor `{name}`: dimensions {:?} of {} need {bytes} bytes, got {}",
            t.dimensions,
            type_name(t.ty),
            t.data.len()
        )));
    }
    Ok(count)
}

/// A backend error carrying a message (wasmtime-wasi-nn reports it to the guest as runtime-error).
pub fn invalid(msg: impl fmt::Display) -> BackendError {
    BackendError::BackendAccess(wasmtime::format_err!("{msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dims: Vec<u32>, ty: TensorType, len: usize) -> Tensor {
        Tensor::new(dims, ty, vec![0; len])
    }

    #[test]
    fn tensor_checks() {
        assert_eq!(check_tensor("x", &t(vec![2, 3], TensorType::Fp32, 24)).unwrap(), 6);
        assert!(check_tensor("x", &t(vec![2, 3], TensorType::Fp32, 23)).is_err());
        let e = check_tensor("x", &t(vec![u32::MAX, u32::MAX, u32::MAX], TensorType::I64, 0)).unwrap_err();
        assert!(format!("{:?}", e).contains("overflow"), "{e:?}");
        assert!(check_tensor("x", &t(vec![1; 17], TensorType::U8, 1)).is_err());
        assert_eq!(check_tensor("x", &t(vec![], TensorType::U8, 1)).unwrap(), 1);
    }

    #[test]
    fn backend_names_round_trip() {
        for b in BackendKind::ALL {
            assert_eq!(b.name().parse::<BackendKind>().unwrap(), *b);
        }
        assert!("cuda".parse::<BackendKind>().unwrap_err().contains("known: tract"));
    }
}
