//! The image-classifier plugin's preprocessing crate, compiled natively: any bytes as an image,
//! for each layout and element type, must give a tensor or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnhost_preprocess::{preprocess, ChannelOrder, CropOrder, ElemType, InputSpec, Interpolation, Layout, Resize, ResizeMode};

fuzz_target!(|data: &[u8]| {
    let elem = [ElemType::F32, ElemType::F16, ElemType::U8, ElemType::F64][data.len() % 4];
    let spec = InputSpec {
        elem,
        layout: if data.len() % 2 == 0 { Layout::Nchw } else { Layout::Nhwc },
        width: 24,
        height: 16,
        channels: if data.len() % 3 == 0 { 1 } else { 3 },
        order: ChannelOrder::Rgb,
        scale: 1.0 / 255.0,
        mean: vec![0.5],
        std: vec![0.25],
        resize: Resize {
            mode: match data.len() % 5 {
                0 => ResizeMode::Stretch,
                1 => ResizeMode::CenterCrop { fraction: 0.875, order: CropOrder::ResizeThenCrop },
                2 => ResizeMode::CenterCrop { fraction: 0.5, order: CropOrder::CropThenResize },
                _ => ResizeMode::Letterbox { pad: vec![114] },
            },
            interpolation: [Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic][data.len() % 3],
            antialias: data.len() % 7 != 0,
        },
        exif_orientation: true,
    };
    if let Ok(t) = preprocess(data, &spec) {
        assert_eq!(t.data.len(), 24 * 16 * spec.channels as usize * elem.size());
    }
});
