//! How a model manifest (`model.toml`) spells the spec's enums, so the host can deserialise the
//! manifest straight into the types preprocessing uses (feature `serde`; the plugin leaves it off).
//!
//! A bad value is refused with the allowed spellings: `must be one of "a", "b", not `x``; the
//! host's manifest reader puts the file, line and key in front.

use crate::{ChannelOrder, CropOrder, ElemType, Interpolation, Layout};

/// An enum with a fixed set of spellings: each value's canonical name first, then its aliases.
pub trait Spelled: Sized + Copy + 'static {
    /// Every value with its spellings, canonical first.
    const NAMES: &'static [(&'static [&'static str], Self)];
    /// Whether `NCHW` and `nchw` are the same.
    const ANY_CASE: bool = false;

    /// The value spelled `s`, or why not (naming the allowed spellings).
    fn parse(s: &str) -> Result<Self, String> {
        let same = |a: &str| if Self::ANY_CASE { a.eq_ignore_ascii_case(s) } else { a == s };
        Self::NAMES.iter().find(|(names, _)| names.iter().any(|n| same(n))).map(|(_, v)| *v).ok_or_else(|| not_one_of::<Self>(s))
    }
}

/// `must be "a" or "b", not `s`` / `must be one of "a", "b", "c", not `s``.
pub fn not_one_of<T: Spelled>(s: &str) -> String {
    format!("{}, not `{s}`", must_be::<T>())
}

/// `must be "a" or "b"` / `must be one of "a", "b", "c"`: the canonical spellings.
pub fn must_be<T: Spelled>() -> String {
    let names: Vec<String> = T::NAMES.iter().map(|(n, _)| format!("\"{}\"", n[0])).collect();
    match names.as_slice() {
        [a, b] => format!("must be {a} or {b}"),
        _ => format!("must be one of {}", names.join(", ")),
    }
}

/// `impl Deserialize` for [`Spelled`] types, from a string.
#[macro_export]
macro_rules! deserialize_spelled {
    ($($ty:ty),+ $(,)?) => {$(
        impl<'de> $crate::spelling::serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::spelling::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as $crate::spelling::serde::Deserialize>::deserialize(d)?;
                <$ty as $crate::spelling::Spelled>::parse(&s).map_err(<D::Error as $crate::spelling::serde::de::Error>::custom)
            }
        }
    )+};
}

#[doc(hidden)]
pub use serde;

impl Spelled for Layout {
    const NAMES: &'static [(&'static [&'static str], Self)] = &[(&["NCHW"], Layout::Nchw), (&["NHWC"], Layout::Nhwc)];
    const ANY_CASE: bool = true;
}

impl Spelled for ChannelOrder {
    const NAMES: &'static [(&'static [&'static str], Self)] = &[(&["RGB"], ChannelOrder::Rgb), (&["BGR"], ChannelOrder::Bgr)];
    const ANY_CASE: bool = true;
}

impl Spelled for Interpolation {
    const NAMES: &'static [(&'static [&'static str], Self)] =
        &[(&["nearest"], Interpolation::Nearest), (&["bilinear"], Interpolation::Bilinear), (&["bicubic"], Interpolation::Bicubic)];
}

impl Spelled for CropOrder {
    const NAMES: &'static [(&'static [&'static str], Self)] =
        &[(&["resize-then-crop"], CropOrder::ResizeThenCrop), (&["crop-then-resize"], CropOrder::CropThenResize)];
}

impl Spelled for ElemType {
    const NAMES: &'static [(&'static [&'static str], Self)] = &[
        (&["f32", "fp32", "float32", "float"], ElemType::F32),
        (&["f16", "fp16", "float16"], ElemType::F16),
        (&["f64", "fp64", "float64", "double"], ElemType::F64),
        (&["u8", "uint8"], ElemType::U8),
    ];
    const ANY_CASE: bool = true;

    fn parse(s: &str) -> Result<Self, String> {
        let other_tensor_types = ["bf16", "bfloat16", "i32", "int32", "i64", "int64"];
        let found = Self::NAMES.iter().find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(s)));
        match found {
            Some((_, v)) => Ok(*v),
            None if other_tensor_types.iter().any(|n| n.eq_ignore_ascii_case(s)) => {
                Err(format!("{s} cannot hold an image: {}", must_be::<Self>()))
            }
            None => Err(not_one_of::<Self>(s)),
        }
    }
}

deserialize_spelled!(Layout, ChannelOrder, Interpolation, CropOrder, ElemType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_refusals() {
        assert_eq!(Layout::parse("nchw"), Ok(Layout::Nchw));
        assert_eq!(ElemType::parse("FLOAT32"), Ok(ElemType::F32));
        assert_eq!(Interpolation::parse("lanczos").unwrap_err(), "must be one of \"nearest\", \"bilinear\", \"bicubic\", not `lanczos`");
        assert_eq!(CropOrder::parse("x").unwrap_err(), "must be \"resize-then-crop\" or \"crop-then-resize\", not `x`");
        assert!(ElemType::parse("i64").unwrap_err().contains("cannot hold an image"));
    }
}
