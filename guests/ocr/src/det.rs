//! DB post-processing: from the detector's probability map to text-line quadrilaterals, as
//! rapidocr's `DBPostProcess` and `TextDetector.filter_tag_det_res` do it with OpenCV, pyclipper
//! and shapely: threshold, 2x2 dilation, contours (`cv2.findContours`, RETR_LIST), minimum-area
//! rectangles (`cv2.minAreaRect` + `cv2.boxPoints`), box score (`cv2.fillPoly` mask mean), unclip
//! (pyclipper round-join offset), then point order, clipping, size filter and reading order.

/// A point (x, y).
pub type Pt = [f32; 2];
/// A quadrilateral: four corners.
pub type Quad = [Pt; 4];

/// The DB parameters (rapidocr's defaults in [`DbParams::default`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DbParams {
    pub thresh: f32,
    pub box_thresh: f64,
    pub max_candidates: usize,
    pub unclip_ratio: f64,
    pub use_dilation: bool,
}

impl Default for DbParams {
    fn default() -> Self {
        DbParams { thresh: 0.3, box_thresh: 0.5, max_candidates: 1000, unclip_ratio: 1.6, use_dilation: true }
    }
}

const MIN_SIZE: f32 = 3.0;

/// The probability map `pred` (`width x height`, row-major) to boxes in the coordinates of the
/// image the detector was given (`dest_width x dest_height`), each with its score, in contour
/// order; then rapidocr's `filter_tag_det_res` (order the corners, clip, drop boxes 3 px or less).
pub fn boxes_from_map(pred: &[f32], width: usize, height: usize, dest_width: usize, dest_height: usize, p: &DbParams) -> Vec<Quad> {
    let mut mask: Vec<u8> = pred.iter().map(|&v| (v > p.thresh) as u8).collect();
    if p.use_dilation {
        mask = dilate2x2(&mask, width, height);
    }
    let contours = find_contours(&mask, width, height);
    let mut out = Vec::new();
    for contour in contours.iter().take(p.max_candidates) {
        let pts: Vec<[f64; 2]> = contour.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
        let Some((points, sside)) = mini_box(&pts) else { continue };
        if sside < MIN_SIZE {
            continue;
        }
        let score = box_score_fast(pred, width, height, &points);
        if p.box_thresh > score {
            continue;
        }
        let expanded = unclip(&points, p.unclip_ratio);
        let pts: Vec<[f64; 2]> = expanded.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
        let Some((quad, sside)) = mini_box(&pts) else { continue };
        if sside < MIN_SIZE + 2.0 {
            continue;
        }
        let scale = |v: f32, from: usize, to: usize| ((v / from as f32) * to as f32).round_ties_even().clamp(0.0, to as f32) as i32;
        let quad: [[i32; 2]; 4] = quad.map(|[x, y]| [scale(x, width, dest_width), scale(y, height, dest_height)]);
        // filter_tag_det_res
        let mut q = order_points_clockwise(&quad.map(|[x, y]| [x as f32, y as f32]));
        for pt in q.iter_mut() {
            pt[0] = pt[0].clamp(0.0, dest_width as f32 - 1.0).trunc();
            pt[1] = pt[1].clamp(0.0, dest_height as f32 - 1.0).trunc();
        }
        let rect_width = dist(q[0], q[1]) as i64;
        let rect_height = dist(q[0], q[3]) as i64;
        if rect_width <= 3 || rect_height <= 3 {
            continue;
        }
        out.push(q);
    }
    out
}

fn dist(a: Pt, b: Pt) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// `cv2.dilate` with a 2x2 kernel of ones (anchor at its centre (1, 1)): each pixel becomes the
/// maximum of itself and its left, upper and upper-left neighbours.
pub fn dilate2x2(mask: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; mask.len()];
    for y in 0..h {
        for x in 0..w {
            let mut v = mask[y * w + x];
            if x > 0 {
                v |= mask[y * w + x - 1];
            }
            if y > 0 {
                v |= mask[(y - 1) * w + x];
                if x > 0 {
                    v |= mask[(y - 1) * w + x - 1];
                }
            }
            out[y * w + x] = v;
        }
    }
    out
}

/// Chain-code directions (OpenCV's): east, north-east, north, ... counter-clockwise on screen.
const DIRS: [(i32, i32); 8] = [(1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1)];

fn dir_of(dx: i32, dy: i32) -> usize {
    DIRS.iter().position(|&d| d == (dx, dy)).unwrap_or(0)
}

/// `cv2.findContours(mask, RETR_LIST, CHAIN_APPROX_NONE)`: every border (outer borders of
/// 8-connected foreground components and the borders of their holes), each as its border pixels,
/// by Suzuki and Abe's border following; in OpenCV's output order (the reverse of discovery).
pub fn find_contours(mask: &[u8], w: usize, h: usize) -> Vec<Vec<(i32, i32)>> {
    // Zero frame around the image, as OpenCV adds.
    let (pw, ph) = (w + 2, h + 2);
    let mut f = vec![0i32; pw * ph];
    for y in 0..h {
        for x in 0..w {
            f[(y + 1) * pw + x + 1] = (mask[y * w + x] != 0) as i32;
        }
    }
    let at = |f: &[i32], x: i32, y: i32| f[y as usize * pw + x as usize];
    let mut contours = Vec::new();
    let mut nbd = 1i32;
    for y in 1..=h as i32 {
        for x in 1..=w as i32 {
            let v = at(&f, x, y);
            let from = if v == 1 && at(&f, x - 1, y) == 0 {
                (x - 1, y)
            } else if v >= 1 && at(&f, x + 1, y) == 0 {
                (x + 1, y)
            } else {
                continue;
            };
            nbd += 1;
            let pts = trace(&mut f, pw, (x, y), from, nbd);
            contours.push(pts.into_iter().map(|(x, y)| (x - 1, y - 1)).collect());
        }
    }
    contours.reverse();
    contours
}

fn trace(f: &mut [i32], pw: usize, start: (i32, i32), from: (i32, i32), nbd: i32) -> Vec<(i32, i32)> {
    let idx = |x: i32, y: i32| y as usize * pw + x as usize;
    let (x, y) = start;
    let d0 = dir_of(from.0 - x, from.1 - y);
    // Clockwise from `from` for the first foreground neighbour.
    let first = (0..8).map(|k| (d0 + 8 - k) % 8).find(|&d| f[idx(x + DIRS[d].0, y + DIRS[d].1)] != 0);
    let Some(d1) = first else {
        f[idx(x, y)] = -nbd;
        return vec![start];
    };
    let p1 = (x + DIRS[d1].0, y + DIRS[d1].1);
    let (mut p2, mut p3) = (p1, start);
    let mut pts = Vec::new();
    loop {
        let d2 = dir_of(p2.0 - p3.0, p2.1 - p3.1);
        let mut east_zero = false;
        let mut d4 = d2;
        for k in 1..=8 {
            let d = (d2 + k) % 8;
            if f[idx(p3.0 + DIRS[d].0, p3.1 + DIRS[d].1)] != 0 {
                d4 = d;
                break;
            }
            if d == 0 {
                east_zero = true;
            }
        }
        let i3 = idx(p3.0, p3.1);
        if east_zero {
            f[i3] = -nbd;
        } else if f[i3] == 1 {
            f[i3] = nbd;
        }
        pts.push(p3);
        let p4 = (p3.0 + DIRS[d4].0, p3.1 + DIRS[d4].1);
        if p4 == start && p3 == p1 {
            break;
        }
        // A border can pass a pixel at most 4 times: never loop longer than that.
        if pts.len() > 4 * f.len() {
            break;
        }
        p2 = p3;
        p3 = p4;
    }
    pts
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, without collinear points.
pub fn convex_hull(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut p: Vec<[f64; 2]> = points.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(2 * p.len());
    for &pt in &p {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], pt) <= 0.0 {
            hull.pop();
        }
        hull.push(pt);
    }
    let lower = hull.len() + 1;
    for &pt in p.iter().rev().skip(1) {
        while hull.len() >= lower && cross(hull[hull.len() - 2], hull[hull.len() - 1], pt) <= 0.0 {
            hull.pop();
        }
        hull.push(pt);
    }
    hull.pop();
    hull
}

/// `cv2.boxPoints(cv2.minAreaRect(points))` (rotating calipers over the convex hull: the rectangle
/// with one side on a hull edge and the least area) and `min(size)`; None for fewer than 3
/// non-collinear points (OpenCV's rectangle then has a zero side, which every caller drops).
pub fn min_area_rect(points: &[[f64; 2]]) -> Option<(Quad, f32)> {
    let hull = convex_hull(points);
    if hull.len() < 3 {
        return None;
    }
    let n = hull.len();
    // (area, edge direction, edge start, projection bounds along and across the edge)
    type Caliper = (f64, [f64; 2], [f64; 2], [f64; 4]);
    let mut best: Option<Caliper> = None;
    for i in 0..n {
        let (a, b) = (hull[i], hull[(i + 1) % n]);
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        if len == 0.0 {
            continue;
        }
        let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let v = [-u[1], u[0]];
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &hull {
            let pu = (p[0] - a[0]) * u[0] + (p[1] - a[1]) * u[1];
            let pv = (p[0] - a[0]) * v[0] + (p[1] - a[1]) * v[1];
            umin = umin.min(pu);
            umax = umax.max(pu);
            vmin = vmin.min(pv);
            vmax = vmax.max(pv);
        }
        let area = (umax - umin) * (vmax - vmin);
        if best.as_ref().is_none_or(|b| area < b.0) {
            best = Some((area, u, [a[0], a[1]], [umin, umax, vmin, vmax]));
        }
    }
    let (_, u, a, [umin, umax, vmin, vmax]) = best?;
    let v = [-u[1], u[0]];
    let corner = |pu: f64, pv: f64| [(a[0] + u[0] * pu + v[0] * pv) as f32, (a[1] + u[1] * pu + v[1] * pv) as f32];
    let quad = [corner(umin, vmin), corner(umax, vmin), corner(umax, vmax), corner(umin, vmax)];
    let side = ((umax - umin).min(vmax - vmin)) as f32;
    Some((quad, side))
}

/// rapidocr's `get_mini_boxes`: the minimum-area rectangle's corners as top-left, top-right,
/// bottom-right, bottom-left (sorted by x, then the left and right pairs by y), and its shorter side.
pub fn mini_box(points: &[[f64; 2]]) -> Option<(Quad, f32)> {
    let (quad, side) = min_area_rect(points)?;
    let mut p = quad.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (i1, i4) = if p[1][1] > p[0][1] { (0, 1) } else { (1, 0) };
    let (i2, i3) = if p[3][1] > p[2][1] { (2, 3) } else { (3, 2) };
    Some(([p[i1], p[i2], p[i3], p[i4]], side))
}

/// rapidocr's `box_score_fast`: the mean of the map inside the box (the box's pixels as
/// `cv2.fillPoly` sets them, after truncating the corners to integers, within the box's bounds).
pub fn box_score_fast(pred: &[f32], w: usize, h: usize, quad: &Quad) -> f64 {
    let clampi = |v: f32, hi: usize| (v as i64).clamp(0, hi as i64 - 1);
    let xmin = clampi(quad.iter().map(|p| p[0]).fold(f32::MAX, f32::min).floor(), w);
    let xmax = clampi(quad.iter().map(|p| p[0]).fold(f32::MIN, f32::max).ceil(), w);
    let ymin = clampi(quad.iter().map(|p| p[1]).fold(f32::MAX, f32::min).floor(), h);
    let ymax = clampi(quad.iter().map(|p| p[1]).fold(f32::MIN, f32::max).ceil(), h);
    let (mw, mh) = ((xmax - xmin + 1) as usize, (ymax - ymin + 1) as usize);
    let poly: Vec<(i64, i64)> = quad.iter().map(|p| ((p[0] - xmin as f32) as i64, (p[1] - ymin as f32) as i64)).collect();
    let mask = fill_poly(&poly, mw, mh);
    let (mut sum, mut n) = (0f64, 0usize);
    for y in 0..mh {
        for x in 0..mw {
            if mask[y * mw + x] != 0 {
                sum += pred[(y + ymin as usize) * w + x + xmin as usize] as f64;
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// `cv2.fillPoly(mask, [poly], 1)` on a zero `w x h` mask: the outline drawn as 8-connected
/// lines, then the inside by scanlines with 16-bit fixed-point edges (OpenCV's
/// `CollectPolyEdges` + `FillEdgeCollection`).
pub fn fill_poly(poly: &[(i64, i64)], w: usize, h: usize) -> Vec<u8> {
    let mut m = vec![0u8; w * h];
    let set = |x: i64, y: i64, m: &mut Vec<u8>| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            m[y as usize * w + x as usize] = 1;
        }
    };
    const SHIFT: i64 = 16;
    // (y0, y1, x at y0 in fixed point, dx per row)
    let mut edges: Vec<(i64, i64, i64, i64)> = Vec::new();
    let n = poly.len();
    for i in 0..n {
        let (p0, p1) = (poly[(i + n - 1) % n], poly[i]);
        // The outline: Bresenham from left to right, 8-connected.
        let (a, b) = if p0.0 > p1.0 { (p1, p0) } else { (p0, p1) };
        let (dx, dy) = (b.0 - a.0, (b.1 - a.1).abs());
        let sy = if b.1 >= a.1 { 1 } else { -1 };
        let (major, minor, x_major) = if dy > dx { (dy, dx, false) } else { (dx, dy, true) };
        let mut err = major - 2 * minor;
        let (mut x, mut y) = (a.0, a.1);
        for _ in 0..=major {
            set(x, y, &mut m);
            if err < 0 {
                err += 2 * major - 2 * minor;
                x += 1;
                y += sy;
            } else {
                err -= 2 * minor;
                if x_major {
                    x += 1;
                } else {
                    y += sy;
                }
            }
        }
        if p0.1 == p1.1 {
            continue;
        }
        let (x0, x1) = (p0.0 << SHIFT, p1.0 << SHIFT);
        let dxr = (x1 - x0) / (p1.1 - p0.1);
        if p0.1 < p1.1 {
            edges.push((p0.1, p1.1, x0, dxr));
        } else {
            edges.push((p1.1, p0.1, x1, dxr));
        }
    }
    if edges.is_empty() {
        return m;
    }
    let ymin = edges.iter().map(|e| e.0).min().unwrap_or(0).max(0);
    let ymax = edges.iter().map(|e| e.1).max().unwrap_or(0).min(h as i64);
    for y in ymin..ymax {
        let mut xs: Vec<i64> = edges.iter().filter(|e| e.0 <= y && y < e.1).map(|e| e.2 + (y - e.0) * e.3).collect();
        xs.sort_unstable();
        for pair in xs.chunks_exact(2) {
            let (x1, x2) = (pair[0] >> SHIFT, pair[1] >> SHIFT);
            for x in x1.max(0)..=x2.min(w as i64 - 1) {
                set(x, y, &mut m);
            }
        }
    }
    m
}

/// pyclipper's `Round`: half away from zero.
fn clipper_round(v: f64) -> i64 {
    if v < 0.0 {
        (v - 0.5) as i64
    } else {
        (v + 0.5) as i64
    }
}

/// rapidocr's `unclip`: the box offset outwards by `area * ratio / perimeter` (shapely's area
/// and length of the float box) with pyclipper's round joins (arc tolerance 0.25) on the box's
/// corners truncated to integers, as pyclipper takes them. Returns the offset polygon's vertices.
pub fn unclip(quad: &Quad, ratio: f64) -> Vec<(i64, i64)> {
    let q: Vec<[f64; 2]> = quad.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    let mut area = 0.0;
    let mut length = 0.0;
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        area += a[0] * b[1] - b[0] * a[1];
        length += ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    }
    let area = area.abs() / 2.0;
    if length == 0.0 {
        return Vec::new();
    }
    let delta = area * ratio / length;
    // AddPath: integer points, consecutive duplicates and a closing duplicate dropped.
    let mut path: Vec<(i64, i64)> = Vec::new();
    for p in quad {
        let pt = (p[0] as i64, p[1] as i64);
        if path.last() != Some(&pt) {
            path.push(pt);
        }
    }
    while path.len() > 1 && path.first() == path.last() {
        path.pop();
    }
    if path.len() < 3 {
        return Vec::new();
    }
    // FixOrientations: Clipper wants a positive area (its sign convention) to grow with delta > 0.
    let mut a = 0.0;
    let n = path.len();
    for i in 0..n {
        let (pj, pi) = (path[(i + n - 1) % n], path[i]);
        a += (pj.0 as f64 + pi.0 as f64) * (pj.1 as f64 - pi.1 as f64);
    }
    if -a * 0.5 < 0.0 {
        path.reverse();
    }
    let normals: Vec<[f64; 2]> = (0..n)
        .map(|j| {
            let (p1, p2) = (path[j], path[(j + 1) % n]);
            let (dx, dy) = ((p2.0 - p1.0) as f64, (p2.1 - p1.1) as f64);
            if dx == 0.0 && dy == 0.0 {
                return [0.0, 0.0];
            }
            let f = 1.0 / (dx * dx + dy * dy).sqrt();
            [dy * f, -dx * f]
        })
        .collect();
    let tol = if 0.25 > delta.abs() * 0.25 { delta.abs() * 0.25 } else { 0.25 };
    let mut steps = std::f64::consts::PI / (1.0 - tol / delta.abs()).acos();
    if steps > delta.abs() * std::f64::consts::PI {
        steps = delta.abs() * std::f64::consts::PI;
    }
    let two_pi = 2.0 * std::f64::consts::PI;
    let (sin, cos) = ((two_pi / steps).sin(), (two_pi / steps).cos());
    let steps_per_rad = steps / two_pi;
    let mut out = Vec::new();
    let mut k = n - 1;
    for j in 0..n {
        let (nk, nj) = (normals[k], normals[j]);
        let src = (path[j].0 as f64, path[j].1 as f64);
        let at = |x: f64, y: f64| (clipper_round(src.0 + x * delta), clipper_round(src.1 + y * delta));
        let mut sin_a = nk[0] * nj[1] - nj[0] * nk[1];
        if (sin_a * delta).abs() < 1.0 {
            let cos_a = nk[0] * nj[0] + nj[1] * nk[1];
            if cos_a > 0.0 {
                out.push(at(nk[0], nk[1]));
                k = j;
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(at(nk[0], nk[1]));
            out.push(path[j]);
            out.push(at(nj[0], nj[1]));
        } else {
            let a = sin_a.atan2(nk[0] * nj[0] + nk[1] * nj[1]);
            let steps = clipper_round(steps_per_rad * a.abs()).max(1);
            let (mut x, mut y) = (nk[0], nk[1]);
            for _ in 0..steps {
                out.push(at(x, y));
                let x2 = x;
                x = x * cos - sin * y;
                y = x2 * sin + y * cos;
            }
            out.push(at(nj[0], nj[1]));
        }
        k = j;
    }
    out
}

/// rapidocr's `order_points_clockwise`: the two leftmost corners (stable sort by x) as top-left
/// and bottom-left by y, the other two as top-right and bottom-right.
pub fn order_points_clockwise(pts: &Quad) -> Quad {
    let mut xs = pts.to_vec();
    xs.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut left = [xs[0], xs[1]];
    let mut right = [xs[2], xs[3]];
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    [left[0], right[0], right[1], left[1]]
}

/// rapidocr's `sorted_boxes`: by the top-left corner's y then x, then one pass that moves a box
/// before its predecessors while they are on the same line (|dy| < 10) and further right.
pub fn sort_boxes(boxes: &mut [Quad]) {
    boxes.sort_by(|a, b| a[0][1].total_cmp(&b[0][1]).then(a[0][0].total_cmp(&b[0][0])));
    let n = boxes.len();
    for i in 0..n.saturating_sub(1) {
        for j in (0..=i).rev() {
            if (boxes[j + 1][0][1] - boxes[j][0][1]).abs() < 10.0 && boxes[j + 1][0][0] < boxes[j][0][0] {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&str]) -> (Vec<u8>, usize, usize) {
        let w = rows[0].len();
        (rows.iter().flat_map(|r| r.bytes().map(|b| (b == b'#') as u8)).collect(), w, rows.len())
    }

    #[test]
    fn contours_in_opencv_order_with_holes() {
        // The same picture as `cv2.findContours(m, RETR_LIST, CHAIN_APPROX_NONE)` was checked on:
        // two squares, then a ring below; OpenCV lists the ring's hole first, the first square last.
        let mut m = vec![0u8; 12 * 14];
        let mut fill = |x0: usize, x1: usize, y0: usize, y1: usize, v: u8| {
            for y in y0..y1 {
                for x in x0..x1 {
                    m[y * 14 + x] = v;
                }
            }
        };
        fill(1, 4, 1, 4, 1);
        fill(8, 12, 1, 4, 1);
        fill(2, 9, 6, 11, 1);
        fill(4, 6, 7, 9, 0);
        let c = find_contours(&m, 14, 12);
        assert_eq!(c.len(), 4);
        let mut hole = c[0].clone();
        hole.sort();
        let mut want = vec![(3, 7), (4, 6), (5, 6), (6, 7), (6, 8), (5, 9), (4, 9), (3, 8)];
        want.sort();
        assert_eq!(hole, want);
        assert_eq!(c[1].len(), 20); // the ring's outer border
        assert_eq!(c[1][0], (2, 6));
        assert_eq!(c[2][0], (8, 1));
        assert_eq!(c[3], vec![(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1), (2, 1)]);
    }

    #[test]
    fn single_pixels_and_edges() {
        let (m, w, h) = grid(&["#..", "...", "..#"]);
        let c = find_contours(&m, w, h);
        assert_eq!(c, vec![vec![(2, 2)], vec![(0, 0)]]);
        let (m, w, h) = grid(&["###", "###"]);
        assert_eq!(find_contours(&m, w, h).len(), 1);
    }

    #[test]
    fn dilation_grows_right_and_down() {
        let (m, w, h) = grid(&["...", ".#.", "..."]);
        let (d, _, _) = grid(&["...", ".##", ".##"]);
        assert_eq!(dilate2x2(&m, w, h), d);
    }

    #[test]
    fn min_area_rect_of_a_rotated_rectangle() {
        let (c, s) = (0.6f64, 0.8f64);
        let pts: Vec<[f64; 2]> = [[0.0, 0.0], [10.0, 0.0], [10.0, 4.0], [0.0, 4.0], [5.0, 2.0]]
            .iter()
            .map(|p| [p[0] * c - p[1] * s + 20.0, p[0] * s + p[1] * c + 5.0])
            .collect();
        let (_, side) = min_area_rect(&pts).unwrap();
        assert!((side - 4.0).abs() < 1e-4);
        assert!(min_area_rect(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).is_none());
    }

    #[test]
    fn hull_of_a_square_with_inner_points() {
        let h = convex_hull(&[[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 2.0], [1.0, 0.0]]);
        assert_eq!(h, vec![[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]);
    }

    #[test]
    fn mini_box_orders_corners() {
        let (q, side) = mini_box(&[[2.0, 3.0], [12.0, 3.0], [12.0, 9.0], [2.0, 9.0]]).unwrap();
        assert_eq!(q, [[2.0, 3.0], [12.0, 3.0], [12.0, 9.0], [2.0, 9.0]]);
        assert_eq!(side, 6.0);
    }

    #[test]
    fn unclip_grows_a_rectangle_by_the_distance() {
        // 100 x 20: distance = 2000 * 1.6 / 240 = 13.33; the offset polygon's minimum-area
        // rectangle is the rectangle grown by that on every side (to pyclipper's integer rounding).
        let quad = [[10.0, 50.0], [110.0, 50.0], [110.0, 70.0], [10.0, 70.0]];
        let poly = unclip(&quad, 1.6);
        let pts: Vec<[f64; 2]> = poly.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
        let (q, side) = mini_box(&pts).unwrap();
        assert!((side - (20.0 + 2.0 * 13.333)).abs() <= 1.0, "{side}");
        assert!((q[0][0] - (10.0 - 13.333)).abs() <= 1.0 && (q[0][1] - (50.0 - 13.333)).abs() <= 1.0, "{q:?}");
        assert!((q[2][0] - (110.0 + 13.333)).abs() <= 1.0 && (q[2][1] - (70.0 + 13.333)).abs() <= 1.0, "{q:?}");
        // Orientation does not matter.
        let rev = [quad[3], quad[2], quad[1], quad[0]];
        let mut a = unclip(&rev, 1.6);
        let mut b = poly.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn fill_poly_covers_the_rectangle_and_its_outline() {
        let m = fill_poly(&[(1, 1), (4, 1), (4, 3), (1, 3)], 6, 5);
        let inside: usize = m.iter().map(|&v| v as usize).sum();
        assert_eq!(inside, 4 * 3);
        assert_eq!(m[6 + 1], 1);
        assert_eq!(m[3 * 6 + 4], 1);
        assert_eq!(m[0], 0);
    }

    #[test]
    fn box_score_is_the_mean_inside() {
        let (w, h) = (10, 8);
        let mut pred = vec![0.0f32; w * h];
        for y in 2..5 {
            for x in 2..7 {
                pred[y * w + x] = 1.0;
            }
        }
        let s = box_score_fast(&pred, w, h, &[[2.0, 2.0], [6.0, 2.0], [6.0, 4.0], [2.0, 4.0]]);
        assert!((s - 1.0).abs() < 1e-9);
        let s = box_score_fast(&pred, w, h, &[[0.0, 0.0], [9.0, 0.0], [9.0, 7.0], [0.0, 7.0]]);
        assert!((s - 15.0 / 80.0).abs() < 1e-9);
    }

    #[test]
    fn boxes_from_a_synthetic_map() {
        let (w, h) = (64, 32);
        let mut pred = vec![0.0f32; w * h];
        for y in 10..18 {
            for x in 8..50 {
                pred[y * w + x] = 0.9;
            }
        }
        let boxes = boxes_from_map(&pred, w, h, w * 2, h * 2, &DbParams::default());
        assert_eq!(boxes.len(), 1);
        let b = boxes[0];
        // Grown by about 8 * 42 * 1.6 / 100 = 5.4 px, then doubled.
        assert!(b[0][0] < 16.0 && b[0][1] < 20.0 && b[2][0] > 98.0 && b[2][1] > 34.0, "{b:?}");
        // Nothing above the threshold: nothing.
        assert!(boxes_from_map(&vec![0.2; w * h], w, h, w, h, &DbParams::default()).is_empty());
    }

    #[test]
    fn reading_order() {
        let q = |x: f32, y: f32| [[x, y], [x + 10.0, y], [x + 10.0, y + 5.0], [x, y + 5.0]];
        let mut b = vec![q(50.0, 12.0), q(5.0, 40.0), q(10.0, 15.0)];
        sort_boxes(&mut b);
        assert_eq!(b, vec![q(10.0, 15.0), q(50.0, 12.0), q(5.0, 40.0)]);
    }
}
