//! Tensors as n-dimensional arrays: the one conversion between a plugin's tensor (dimensions,
//! element type, little-endian bytes) and a typed [`ndarray::ArrayD`], for the places where the
//! host looks at elements rather than passing bytes through: `.npy` files ([`crate::npy`]) and
//! golden comparisons ([`crate::golden`]).

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

use crate::plugins::{TensorValue, WitTensorType as T};

/// A tensor with its elements typed, one variant per wasi-nn tensor type.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    F16(ArrayD<f16>),
    Bf16(ArrayD<bf16>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    U8(ArrayD<u8>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
}

/// Why a tensor's bytes do not make an array of its dimensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("dimensions {0:?} overflow")]
    Overflow(Vec<u32>),
    #[error("dimensions {dims:?} of {ty} need {need} bytes, the tensor has {have}")]
    Length { dims: Vec<u32>, ty: &'static str, need: usize, have: usize },
}

/// Elements that cross wasi-nn as little-endian bytes.
trait Element: Copy {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_le(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("chunks of the element size"))
            }
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
element!(f16, bf16, f32, f64, u8, i32, i64);

fn typed<E: Element>(shape: IxDyn, data: &[u8]) -> ArrayD<E> {
    let v: Vec<E> = data.chunks_exact(E::SIZE).map(E::from_le).collect();
    ArrayD::from_shape_vec(shape, v).expect("length checked against the shape")
}

fn bytes<E: Element>(a: &ArrayD<E>) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() * E::SIZE);
    // Logical (row-major) order, whatever the memory layout.
    a.iter().for_each(|x| x.put_le(&mut out));
    out
}

/// Size in bytes of one element of `ty`.
pub fn element_size(ty: T) -> usize {
    crate::backends::type_size(ty.into())
}

/// The lower-case name of a tensor type (`fp32`, `u8`...), for errors.
fn type_name(ty: T) -> &'static str {
    match ty {
        T::Fp16 => "fp16",
        T::Bf16 => "bf16",
        T::Fp32 => "fp32",
        T::Fp64 => "fp64",
        T::U8 => "u8",
        T::I32 => "i32",
        T::I64 => "i64",
    }
}

/// Applies `$e` to the array inside any variant.
macro_rules! each {
    ($a:expr, $x:ident => $e:expr) => {
        match $a {
            Array::F16($x) => $e,
            Array::Bf16($x) => $e,
            Array::F32($x) => $e,
            Array::F64($x) => $e,
            Array::U8($x) => $e,
            Array::I32($x) => $e,
            Array::I64($x) => $e,
        }
    };
}

impl Array {
    /// The array a tensor's bytes hold; an error when their length does not match the dimensions.
    pub fn from_tensor(t: &TensorValue) -> Result<Self, ShapeError> {
        let count = t.dimensions.iter().try_fold(1usize, |a, &d| a.checked_mul(d as usize));
        let need = count.and_then(|c| c.checked_mul(element_size(t.ty))).ok_or_else(|| ShapeError::Overflow(t.dimensions.clone()))?;
        if t.data.len() != need {
            return Err(ShapeError::Length { dims: t.dimensions.clone(), ty: type_name(t.ty), need, have: t.data.len() });
        }
        let shape = IxDyn(&t.dimensions.iter().map(|&d| d as usize).collect::<Vec<_>>());
        let d = &t.data;
        Ok(match t.ty {
            T::Fp16 => Array::F16(typed(shape, d)),
            T::Bf16 => Array::Bf16(typed(shape, d)),
            T::Fp32 => Array::F32(typed(shape, d)),
            T::Fp64 => Array::F64(typed(shape, d)),
            T::U8 => Array::U8(typed(shape, d)),
            T::I32 => Array::I32(typed(shape, d)),
            T::I64 => Array::I64(typed(shape, d)),
        })
    }

    /// The tensor (dimensions, type, little-endian bytes in row-major order). Dimensions come
    /// from the array's shape and must each fit in a `u32` (wasi-nn's dimension type).
    pub fn to_tensor(&self) -> Result<TensorValue, ShapeError> {
        let dimensions = self
            .shape()
            .iter()
            .map(|&d| {
                u32::try_from(d).map_err(|_| ShapeError::Overflow(self.shape().iter().map(|&d| d.min(u32::MAX as usize) as u32).collect()))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(TensorValue { dimensions, ty: self.ty(), data: each!(self, a => bytes(a)) })
    }

    pub fn ty(&self) -> T {
        match self {
            Array::F16(_) => T::Fp16,
            Array::Bf16(_) => T::Bf16,
            Array::F32(_) => T::Fp32,
            Array::F64(_) => T::Fp64,
            Array::U8(_) => T::U8,
            Array::I32(_) => T::I32,
            Array::I64(_) => T::I64,
        }
    }

    pub fn shape(&self) -> &[usize] {
        each!(self, a => a.shape())
    }

    /// Every element widened to f64 (exact for every type but i64 beyond 2^53).
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Array::F16(a) => a.mapv(f64::from),
            Array::Bf16(a) => a.mapv(f64::from),
            Array::F32(a) => a.mapv(f64::from),
            Array::F64(a) => a.clone(),
            Array::U8(a) => a.mapv(f64::from),
            Array::I32(a) => a.mapv(f64::from),
            Array::I64(a) => a.mapv(|x| x as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_round_trip_through_arrays() {
        for ty in [T::Fp16, T::Bf16, T::Fp32, T::Fp64, T::U8, T::I32, T::I64] {
            let t = TensorValue { dimensions: vec![2, 3], ty, data: (0..6 * element_size(ty) as u8).collect() };
            let a = Array::from_tensor(&t).unwrap();
            assert_eq!(a.shape(), &[2, 3]);
            assert_eq!(a.ty(), ty);
            let back = a.to_tensor().unwrap();
            assert_eq!((back.dimensions, back.ty, back.data), (t.dimensions, t.ty, t.data));
        }
        let i = Array::from_tensor(&TensorValue {
            dimensions: vec![2],
            ty: T::I32,
            data: [7i32.to_le_bytes(), (-1i32).to_le_bytes()].concat(),
        });
        assert_eq!(i.unwrap().to_f64().into_raw_vec_and_offset().0, vec![7.0, -1.0]);
    }

    #[test]
    fn bytes_that_do_not_match_the_dimensions_are_an_error() {
        let short = TensorValue { dimensions: vec![2, 2], ty: T::Fp32, data: vec![0; 12] };
        assert_eq!(Array::from_tensor(&short).unwrap_err().to_string(), "dimensions [2, 2] of fp32 need 16 bytes, the tensor has 12");
        let huge = TensorValue { dimensions: vec![u32::MAX; 4], ty: T::Fp32, data: vec![] };
        assert!(matches!(Array::from_tensor(&huge), Err(ShapeError::Overflow(_))));
    }
}
