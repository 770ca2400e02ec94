//! The funnel as an SVG chart: one horizontal bar per step, labelled with the step id and its
//! count (or the hidden-count marker, with no bar), sized for print.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::MinCount;
use super::render::date_range;
use super::tally::FlowReport;

const WIDTH: u32 = 900;
const ROW: u32 = 34;
const TOP: u32 = 90;
const LABELS: i32 = 190;
const BAR_MAX: i32 = 560;

/// The SVG of `report`'s funnel (respondents who reached each step). SVG only: its text is
/// SVG `<text>`, drawn by the viewer's fonts, where a PNG would need system fonts to rasterise.
pub fn funnel_svg(report: &FlowReport, k: MinCount) -> Result<String, String> {
    let funnel = report
        .funnel
        .as_ref()
        .ok_or_else(|| format!("no definition of flow {} to draw its funnel", report.flow))?;
    let height = TOP + ROW * funnel.steps.len() as u32 + 50;
    let most = funnel
        .steps
        .iter()
        .map(|s| s.reached)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let title = TextStyle::from(("sans-serif", 27).into_font()).color(&BLACK);
        let small = TextStyle::from(("sans-serif", 19).into_font()).color(&RGBColor(60, 60, 60));
        root.draw_text(
            &format!("{}: respondents reaching each step", report.flow),
            &title,
            (20, 20),
        )
        .map_err(e)?;
        let k_note = if k.0 > 1 {
            format!("; counts below {} hidden", k.0)
        } else {
            String::new()
        };
        root.draw_text(
            &format!(
                "{}; {} started, {} completed{k_note}",
                date_range(report),
                k.show(report.overall.started),
                k.show(report.overall.completed)
            ),
            &small,
            (20, 52),
        )
        .map_err(e)?;
        let step_label = TextStyle::from(("sans-serif", 19).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let count_label = TextStyle::from(("sans-serif", 19).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        // Dark enough to print in grey scale.
        let bar = RGBColor(31, 78, 121);
        for (row, step) in funnel.steps.iter().enumerate() {
            let top = (TOP + ROW * row as u32) as i32;
            let middle = top + ROW as i32 / 2;
            root.draw_text(&step.step, &step_label, (LABELS - 10, middle))
                .map_err(e)?;
            let end = if k.hides(step.reached) {
                // No bar: its length would give the hidden count away.
                LABELS
            } else {
                let length = (step.reached as f64 / most as f64 * BAR_MAX as f64).round() as i32;
                root.draw(&Rectangle::new(
                    [(LABELS, top + 5), (LABELS + length, top + ROW as i32 - 5)],
                    bar.filled(),
                ))
                .map_err(e)?;
                LABELS + length
            };
            root.draw_text(&k.show(step.reached), &count_label, (end + 8, middle))
                .map_err(e)?;
        }
        let footer = TOP + ROW * funnel.steps.len() as u32 + 14;
        root.draw_text(
            "reached: shown the step, or passed over it by its condition; a hidden count has no bar",
            &small,
            (20, footer as i32),
        )
        .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}
