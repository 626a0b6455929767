//! Drawing a task plugin's results on its input image (`nnhost task --draw`): boxes, quadrilaterals,
//! keypoints and captions (label, text, score), in plain pixels with a built-in 8x8 bitmap font
//! (ASCII; other characters are drawn as `?`), so no font file is needed.

use image::{Rgb, RgbImage};

use crate::plugins::task::ResultRow;

/// Colours cycled per result, chosen to read on photos and on white pages.
const PALETTE: [[u8; 3]; 6] = [[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [0, 128, 128]];

/// Draw every result on `img`.
pub fn draw_results(img: &mut RgbImage, rows: &[ResultRow]) {
    let thick = ((img.width().min(img.height()) as f32 / 300.0).round() as i64).clamp(1, 4);
    let scale = if img.width().max(img.height()) > 1200 { 2 } else { 1 };
    for (i, r) in rows.iter().enumerate() {
        let colour = Rgb(PALETTE[i % PALETTE.len()]);
        let mut anchor = None;
        if let Some(b) = r.bbox {
            rect(img, b, thick, colour);
            anchor = Some((b[0], b[1]));
        }
        if let Some(q) = &r.quad {
            for k in 0..4 {
                let (a, b) = (q[k], q[(k + 1) % 4]);
                line(img, a, b, thick, colour);
            }
            // The caption goes above the quadrilateral's bounding box.
            let (x, y) = q.iter().fold((f32::INFINITY, f32::INFINITY), |(x, y), p| (x.min(p[0]), y.min(p[1])));
            anchor = anchor.or(Some((x, y)));
        }
        for p in r.keypoints.iter().flatten() {
            dot(img, *p, thick + 1, colour);
        }
        let caption = r.caption();
        if let (Some((x, y)), false) = (anchor, caption.is_empty()) {
            let h = 8 * scale as i64 + 2;
            text(img, x as i64, y as i64 - h, &caption, scale, colour);
        }
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u64) < img.width() as u64 && (y as u64) < img.height() as u64 {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// Coordinates a plugin gave, clamped to a range where drawing stays cheap.
fn clampf(v: f32) -> i64 {
    if v.is_finite() {
        v.clamp(-1e5, 1e5) as i64
    } else {
        0
    }
}

fn rect(img: &mut RgbImage, b: [f32; 4], thick: i64, c: Rgb<u8>) {
    let (x0, y0, x1, y1) = (b[0], b[1], b[2], b[3]);
    line(img, [x0, y0], [x1, y0], thick, c);
    line(img, [x1, y0], [x1, y1], thick, c);
    line(img, [x1, y1], [x0, y1], thick, c);
    line(img, [x0, y1], [x0, y0], thick, c);
}

/// A line `thick` pixels wide; only the part inside the image is walked.
fn line(img: &mut RgbImage, a: [f32; 2], b: [f32; 2], thick: i64, c: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (mut x0, mut y0, x1, y1) = (clampf(a[0]), clampf(a[1]), clampf(b[0]), clampf(b[1]));
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let mut err = dx + dy;
    let half = thick / 2;
    // At most 2e5 steps per segment: clamped coordinates bound the walk.
    loop {
        if x0 >= -thick && y0 >= -thick && x0 < w + thick && y0 < h + thick {
            for ox in -half..thick - half {
                for oy in -half..thick - half {
                    put(img, x0 + ox, y0 + oy, c);
                }
            }
        }
        if x0 == x1 && y0 == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x0 += sx;
        }
        if e2 <= dx {
            err += dx;
            y0 += sy;
        }
    }
}

fn dot(img: &mut RgbImage, p: [f32; 2], r: i64, c: Rgb<u8>) {
    let (x, y) = (clampf(p[0]), clampf(p[1]));
    for oy in -r..=r {
        for ox in -r..=r {
            if ox * ox + oy * oy <= r * r {
                put(img, x + ox, y + oy, c);
            }
        }
    }
}

/// `s` in the 8x8 font at (x, y) on a filled background of colour `bg`, white letters, kept inside
/// the image; at most 80 characters.
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, scale: u32, bg: Rgb<u8>) {
    let scale = scale as i64;
    let chars: Vec<char> = s.chars().take(80).collect();
    let (w, h) = (chars.len() as i64 * 8 * scale + 2, 8 * scale + 2);
    let x = x.clamp(0, (img.width() as i64 - w).max(0));
    let y = y.clamp(0, (img.height() as i64 - h).max(0));
    for yy in 0..h {
        for xx in 0..w {
            put(img, x + xx, y + yy, bg);
        }
    }
    for (i, ch) in chars.iter().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY[if ch.is_ascii() && !ch.is_ascii_control() { *ch as usize } else { b'?' as usize }];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let px = x + 1 + (i as i64 * 8 + col) * scale + sx;
                            let py = y + 1 + row as i64 * scale + sy;
                            put(img, px, py, Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_stays_inside_the_image_whatever_the_coordinates() {
        let mut img = RgbImage::new(20, 10);
        let rows = vec![
            ResultRow { bbox: Some([2.0, 20.0, 15.0, 35.0]), score: Some(0.9), ..Default::default() },
            ResultRow { bbox: Some([f32::NAN, -1e30, f32::INFINITY, 1e30]), text: Some("ünïcode".into()), ..Default::default() },
            ResultRow {
                keypoints: Some(vec![[-5.0, 3.0], [1e9, 1e9]]),
                quad: Some([[0.0, 0.0], [50.0, 0.0], [50.0, 50.0], [0.0, 50.0]]),
                ..Default::default()
            },
        ];
        draw_results(&mut img, &rows);
        // A box alone: its left edge is drawn in the first colour, its caption above it.
        let mut img = RgbImage::new(40, 40);
        draw_results(&mut img, &rows[..1]);
        assert_eq!(img.get_pixel(2, 30), &Rgb(PALETTE[0]));
        assert_eq!(img.get_pixel(20, 30), &Rgb([0, 0, 0]));
    }
}
