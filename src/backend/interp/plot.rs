//! `plot(ys, path:, title:, log:)` and `plot(xs, ys, …)`: a line plot written
//! as an SVG file with a title, a labelled x axis (`x` values, or the step
//! index when no `xs` are given) and y axis, and a legend when there are
//! several series. `ys` is a vector, a matrix with one series per row, or a
//! tuple of vectors; every series has the length of `xs`. With `log: true`
//! the y axis is logarithmic (for a loss or `f(x)` falling over iterations).
//! A relative `path` is resolved against the running program's folder.
//!
//! Non-finite points (NaN, infinities) are left out of the lines; a series
//! with none left, an empty one, mismatched lengths, a non-positive value on
//! a log axis and a file that cannot be written are errors.

use super::prims::Failure;
use super::value::Val;
use crate::runtime::Tensor;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The size of the picture, in SVG pixels.
const SIZE: (u32, u32) = (800, 500);

/// One line: its points, in order.
type Series = Vec<(f64, f64)>;

/// Draws the plot described by the operands of `Prim::Plot`: `path`,
/// `title`, `log`, then `ys` or `xs, ys`.
pub fn plot(args: &[Val], base_dir: Option<&Path>) -> Result<(), Failure> {
    let (Some(Val::Str(path)), Some(Val::Str(title)), Some(Val::Tensor(log)), Some(Val::Str(style))) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        return Err(Failure::internal("plot: path, title, log and style operands"));
    };
    let log = log.as_scalar_bool().unwrap_or(false);
    let data = args.get(4..).unwrap_or(&[]);
    let points = match &**style {
        "lines" => false,
        "points" => true,
        "image" => {
            let svg = match data {
                [Val::Tensor(t)] => image_grid(t, title)?,
                _ => {
                    return Err(Failure::new(
                        "`plot` with `style: \"image\"` takes one tensor of images",
                    ));
                }
            };
            let file = resolve(path, base_dir);
            return std::fs::write(&file, svg)
                .map_err(|e| Failure::new(format!("cannot write the plot to `{}`: {e}", file.display())));
        }
        other => {
            return Err(Failure::new(format!("unknown plot style `{other}`"))
                .with_help("`style:` is \"lines\" (the default), \"points\" or \"image\""));
        }
    };
    let (xs, ys) = match data {
        [ys] => (None, ys),
        [Val::Tensor(xs), ys] => (Some(xs.to_f64_vec()), ys),
        _ => return Err(Failure::internal("plot: data operands")),
    };
    let rows = series_values(ys)?;
    let n = rows.first().map_or(0, Vec::len);
    if n == 0 {
        return Err(Failure::new("`plot` of an empty series").with_help("give at least one value to plot"));
    }
    if let Some((k, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n) {
        return Err(Failure::new(format!(
            "the series of `plot` differ in length: series 1 has {n} values, series {} has {}",
            k + 1,
            r.len()
        )));
    }
    if let Some(xs) = &xs
        && xs.len() != n
    {
        return Err(
            Failure::new(format!("`plot` has {} x values but {n} y values", xs.len()))
                .with_help("`xs` and each series of `ys` must have the same length"),
        );
    }
    let x_of = |i: usize| xs.as_ref().and_then(|v| v.get(i).copied()).unwrap_or(i as f64);
    let series: Vec<Series> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, &y)| (x_of(i), y))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    if log && let Some((x, y)) = series.iter().flatten().find(|(_, y)| *y <= 0.0) {
        return Err(Failure::new(format!(
            "`plot` with `log: true` needs positive values, found {y} at x = {x}"
        ))
        .with_help("plot the values without `log: true`, or shift them above zero"));
    }
    let Some(bounds) = Bounds::of(&series) else {
        return Err(Failure::new("`plot` has no finite values to draw"));
    };
    let svg = render(&series, bounds, title, xs.is_some(), log, points)
        .map_err(|e| Failure::new(format!("cannot draw the plot: {e}")))?;
    let file = resolve(path, base_dir);
    std::fs::write(&file, svg)
        .map_err(|e| Failure::new(format!("cannot write the plot to `{}`: {e}", file.display())))
}

/// A relative path joined to the program's folder.
fn resolve(path: &str, base_dir: Option<&Path>) -> PathBuf {
    let p = Path::new(path);
    match base_dir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

/// The values of each series of `ys`.
fn series_values(ys: &Val) -> Result<Vec<Vec<f64>>, Failure> {
    let rows_of = |t: &Tensor| -> Result<Vec<Vec<f64>>, Failure> {
        let v = t.to_f64_vec();
        match t.shape() {
            [_] => Ok(vec![v]),
            [_, 0] => Ok(vec![Vec::new()]),
            [_, n] => Ok(v.chunks(*n).map(<[f64]>::to_vec).collect()),
            _ => Err(Failure::new(format!(
                "`plot` of lines or points needs a vector or a matrix, found a tensor of rank {}",
                t.rank()
            ))
            .with_help("images are drawn with `style: \"image\"`")),
        }
    };
    match ys {
        Val::Tensor(t) => rows_of(t),
        Val::Tuple(parts) => parts
            .iter()
            .map(|p| match p {
                Val::Tensor(t) if t.rank() == 1 => Ok(t.to_f64_vec()),
                _ => Err(Failure::internal("plot: a tuple element that is not a vector")),
            })
            .collect(),
        _ => Err(Failure::internal("plot: ys")),
    }
}

/// The ranges of the axes: the data's extent, widened when it is a point.
#[derive(Clone, Copy)]
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

impl Bounds {
    fn of(series: &[Series]) -> Option<Bounds> {
        let mut pts = series.iter().flatten();
        let &(x0, y0) = pts.next()?;
        let mut b = Bounds {
            x: (x0, x0),
            y: (y0, y0),
        };
        for &(x, y) in pts {
            b.x = (b.x.0.min(x), b.x.1.max(x));
            b.y = (b.y.0.min(y), b.y.1.max(y));
        }
        let widen = |(lo, hi): (f64, f64)| {
            if hi > lo {
                (lo, hi)
            } else {
                let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                (lo - d, hi + d)
            }
        };
        b.x = widen(b.x);
        b.y = widen(b.y);
        Some(b)
    }
}

/// The SVG text of the plot.
fn render(
    series: &[Series],
    b: Bounds,
    title: &str,
    has_xs: bool,
    log: bool,
    points: bool,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20).x_label_area_size(50).y_label_area_size(70);
        if !title.is_empty() {
            builder.caption(title, ("sans-serif", 24));
        }
        let x_desc = if has_xs { "x" } else { "step" };
        let y_desc = if log { "y (log scale)" } else { "y" };
        // The y axis differs in type between the two scales; the drawing is the same.
        macro_rules! draw {
            ($y_range:expr) => {{
                let mut chart = builder
                    .build_cartesian_2d(b.x.0..b.x.1, $y_range)
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (k, s) in series.iter().enumerate() {
                    let color = Palette99::pick(k).to_rgba();
                    let drawn = if points {
                        chart.draw_series(s.iter().map(|&p| Circle::new(p, 2, color.filled())))
                    } else {
                        chart.draw_series(LineSeries::new(s.iter().copied(), color.stroke_width(2)))
                    }
                    .map_err(|e| e.to_string())?;
                    if series.len() > 1 {
                        drawn
                            .label(format!("series {}", k + 1))
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                    }
                }
                if series.len() > 1 {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| e.to_string())?;
                }
            }};
        }
        if log {
            // Whole decades, so that the axis has labelled ticks.
            let lo = 10f64.powf(b.y.0.log10().floor());
            let hi = 10f64.powf(b.y.1.log10().ceil()).max(lo * 10.0);
            draw!((lo..hi).log_scale());
        } else {
            draw!(b.y.0..b.y.1);
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A grid of grayscale images as SVG: `[rows, cols, h, w]`, `[n, h, w]` (one
/// row) or `[h, w]`; values are clipped to `[0, 1]`, 0 white and 1 black.
fn image_grid(t: &Tensor, title: &str) -> Result<String, Failure> {
    let (rows, cols, h, w) = match *t.shape() {
        [r, c, h, w] => (r, c, h, w),
        [n, h, w] => (1, n, h, w),
        [h, w] => (1, 1, h, w),
        _ => {
            return Err(Failure::new(format!(
                "`plot` of images needs a tensor of rank 2, 3 or 4, found rank {}",
                t.rank()
            )));
        }
    };
    let values = t.to_f64_vec();
    // Each pixel is a `PX`-unit square; images are `GAP` apart; the title on top.
    const PX: usize = 6;
    const GAP: usize = 8;
    const TOP: usize = 40;
    let width = cols * (w * PX + GAP) + GAP;
    let height = TOP + rows * (h * PX + GAP) + GAP;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{GAP}\" y=\"26\" font-family=\"sans-serif\" font-size=\"18\">{}</text>\n",
        escape(title)
    );
    for (k, image) in values.chunks(h * w).enumerate().take(rows * cols) {
        let (r, c) = (k / cols, k % cols);
        let (x0, y0) = (GAP + c * (w * PX + GAP), TOP + r * (h * PX + GAP));
        for (i, &v) in image.iter().enumerate() {
            let level = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
            let gray = (255.0 * (1.0 - level)).round() as u8;
            let (x, y) = (x0 + (i % w) * PX, y0 + (i / w) * PX);
            svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{PX}\" height=\"{PX}\" fill=\"rgb({gray},{gray},{gray})\"/>\n"
            ));
        }
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn vec_f64(v: &[f64]) -> Val {
        Val::Tensor(Tensor::from_f64s(crate::ir::DType::F64, vec![v.len()], v.to_vec()).unwrap())
    }

    fn args(path: &Path, log: bool, data: Vec<Val>) -> Vec<Val> {
        let mut a = vec![
            Val::Str(Rc::from(path.to_string_lossy().as_ref())),
            Val::Str(Rc::from("Loss <curve>")),
            Val::Tensor(Tensor::scalar_bool(log)),
            Val::Str(Rc::from("lines")),
        ];
        a.extend(data);
        a
    }

    fn data_lines(svg: &str) -> usize {
        svg.split("<polyline")
            .skip(1)
            .filter(|p| {
                p.split("/>")
                    .next()
                    .is_some_and(|e| e.contains("stroke-width=\"2\""))
            })
            .count()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("diffl-plot-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_an_svg_with_title_axes_and_one_line_per_series() {
        let dir = temp_dir("ok");
        let ys = Val::Tuple(Rc::from(vec![
            vec_f64(&[3.0, 2.0, 1.5]),
            vec_f64(&[1.0, 0.5, 0.25]),
        ]));
        plot(&args(Path::new("two.svg"), true, vec![ys]), Some(&dir)).unwrap();
        let svg = std::fs::read_to_string(dir.join("two.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        // The title is escaped text; the axes are described.
        let text = |t: &str| svg.contains(&format!("\n{t}\n</text>"));
        assert!(text("Loss &lt;curve&gt;"), "{svg}");
        assert!(text("step") && text("y (log scale)") && text("series 2"), "{svg}");
        // The data lines are the thick ones; the y axis spans whole decades.
        assert_eq!(data_lines(&svg), 2);
        assert!(text("1.0") && text("10.0"), "{svg}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn points_and_image_styles() {
        let dir = temp_dir("styles");
        let mut a = args(
            Path::new("pts.svg"),
            false,
            vec![vec_f64(&[0.0, 1.0, 2.0]), vec_f64(&[1.0, 0.0, 3.0])],
        );
        a[3] = Val::Str(Rc::from("points"));
        plot(&a, Some(&dir)).unwrap();
        let svg = std::fs::read_to_string(dir.join("pts.svg")).unwrap();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(data_lines(&svg), 0);
        // Two 2x2 images in one row: 8 pixels, 0 white and 1 black.
        let imgs = Tensor::from_f64s(
            crate::ir::DType::F64,
            vec![2, 2, 2],
            vec![0.0, 1.0, 0.5, 2.0, 0.0, 0.0, 0.0, 0.0],
        )
        .unwrap();
        let mut a = args(Path::new("img.svg"), false, vec![Val::Tensor(imgs)]);
        a[3] = Val::Str(Rc::from("image"));
        plot(&a, Some(&dir)).unwrap();
        let svg = std::fs::read_to_string(dir.join("img.svg")).unwrap();
        assert_eq!(svg.matches("<rect").count(), 1 + 8);
        assert!(
            svg.contains("rgb(0,0,0)") && svg.contains("rgb(128,128,128)"),
            "{svg}"
        );
        a[3] = Val::Str(Rc::from("bars"));
        assert!(
            plot(&a, Some(&dir))
                .err()
                .unwrap()
                .message_text()
                .contains("unknown plot style")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_data_and_paths_are_errors() {
        let dir = temp_dir("bad");
        let msg = |a: Vec<Val>| plot(&a, Some(&dir)).err().unwrap().message_text().to_string();
        let p = Path::new("x.svg");
        assert!(msg(args(p, false, vec![vec_f64(&[])])).contains("empty"));
        assert!(
            msg(args(p, false, vec![vec_f64(&[1.0, 2.0]), vec_f64(&[1.0])])).contains("2 x values but 1")
        );
        let ragged = Val::Tuple(Rc::from(vec![vec_f64(&[1.0, 2.0]), vec_f64(&[1.0])]));
        assert!(msg(args(p, false, vec![ragged])).contains("differ in length"));
        assert!(msg(args(p, true, vec![vec_f64(&[1.0, 0.0])])).contains("positive"));
        assert!(msg(args(p, false, vec![vec_f64(&[f64::NAN])])).contains("no finite"));
        let missing = Path::new("no/such/folder/x.svg");
        assert!(msg(args(missing, false, vec![vec_f64(&[1.0])])).contains("cannot write"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
