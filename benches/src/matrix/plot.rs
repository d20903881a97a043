//! SVG plots of a run (plotters, SVG backend only): checks/s achieved
//! against the target above, dispatch lateness percentiles (log scale)
//! below, both over the run's seconds, warm-up included.

use std::path::Path;

use plotters::prelude::*;

use super::sample::Sample;

/// Plot size in pixels: two panels; a run of a few hundred seconds stays
/// well under 100 KB of SVG.
const SIZE: (u32, u32) = (900, 640);

/// The lowest lateness the log axis shows (ms): seconds with no dispatch
/// (or sub-microsecond lateness) sit on it.
const FLOOR_MS: f64 = 0.01;

/// Writes the plot of `samples` to `path`; `marks` are times (s) drawn as
/// vertical lines (a restart).
///
/// # Errors
/// When the file cannot be written.
pub fn run(
    path: &Path,
    title: &str,
    samples: &[Sample],
    target_per_s: f64,
    marks: &[f64],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2);
    let t_max = samples.last().map_or(1.0, |s| s.t_s).max(1.0);

    let rate_max = samples
        .iter()
        .map(Sample::rate)
        .fold(target_per_s, f64::max)
        * 1.15;
    let mut rate = ChartBuilder::on(&upper)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, 0f64..rate_max.max(1.0))?;
    rate.configure_mesh()
        .y_desc("checks/s")
        .x_desc("seconds since start")
        .draw()?;
    rate.draw_series(LineSeries::new(
        [(0.0, target_per_s), (t_max, target_per_s)],
        BLACK.stroke_width(1),
    ))?
    .label("target")
    .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    rate.draw_series(LineSeries::new(
        samples.iter().map(|s| (s.t_s, s.rate())),
        BLUE.stroke_width(2),
    ))?
    .label("achieved")
    .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    for &m in marks {
        rate.draw_series(LineSeries::new([(m, 0.0), (m, rate_max)], RED))?;
    }
    rate.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let late_max = samples.iter().map(|s| s.lateness_ms[3]).fold(1.0, f64::max) * 2.0;
    let mut late = ChartBuilder::on(&lower)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, (FLOOR_MS..late_max).log_scale())?;
    late.configure_mesh()
        .y_desc("lateness ms (log)")
        .x_desc("seconds since start")
        .draw()?;
    let colours = [GREEN, BLUE, MAGENTA, RED];
    for (i, name) in ["p50", "p99", "p999", "max"].iter().enumerate() {
        let c = colours[i];
        late.draw_series(LineSeries::new(
            samples
                .iter()
                .map(|s| (s.t_s, s.lateness_ms[i].max(FLOOR_MS))),
            c.stroke_width(1),
        ))?
        .label(*name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
    }
    late.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
