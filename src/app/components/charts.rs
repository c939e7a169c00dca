//! The dashboard's charts as SVG nodes: typed, escaped by construction (a vendor or an
//! operation name is text, never markup), rendered on the server so they read without
//! JavaScript, and coloured by the theme through `currentColor` and Tailwind's fill classes.

use leptos::prelude::*;

/// One bar of a [`BarChart`]: its label and value.
pub type Bar = (String, f64);

/// Vertical bars with a value axis: `label` names the chart, `unit` the values.
#[component]
pub fn BarChart(label: String, unit: String, bars: Vec<Bar>) -> impl IntoView {
    if bars.is_empty() {
        return view! {
            <p class="text-sm text-slate-500 dark:text-slate-400">
                {format!("No data for “{label}” in the period.")}
            </p>
        }
        .into_any();
    }
    let (left, width, height) = (56.0, 640.0, 150.0);
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max).max(1e-9);
    let step = width / bars.len() as f64;
    let every = (bars.len() / 8).max(1);
    let title = format!("{label} ({unit})");
    let aria = title.clone();
    view! {
        <svg
            role="img"
            aria-label=aria
            viewBox=format!("0 0 {} {}", left + width + 10.0, height + 44.0)
            class="w-full max-w-3xl text-slate-700 dark:text-slate-300"
            data-chart="bars"
        >
            <title>{title}</title>
            {bars
                .into_iter()
                .enumerate()
                .map(|(i, (name, value))| {
                    let x = left + i as f64 * step;
                    let bh = value / max * height;
                    let tip = format!("{name}: {value:.1} {unit}");
                    view! {
                        <rect
                            x=format!("{:.1}", x + 1.0)
                            y=format!("{:.1}", height - bh + 10.0)
                            width=format!("{:.1}", (step - 2.0).max(1.0))
                            height=format!("{bh:.1}")
                            class="fill-indigo-500 dark:fill-indigo-400"
                        >
                            <title>{tip}</title>
                        </rect>
                        {(i % every == 0)
                            .then(|| {
                                view! {
                                    <text x=format!("{x:.1}") y=height + 26.0 font-size="10" fill="currentColor">
                                        {name}
                                    </text>
                                }
                            })}
                    }
                })
                .collect_view()}
            <ValueAxis left width height max=format!("{max:.1}") />
            <text x="4" y=height / 2.0 font-size="10" fill="currentColor">
                {unit.clone()}
            </text>
        </svg>
    }
    .into_any()
}

/// The base line and the 0 / max labels of a vertical chart.
#[component]
fn ValueAxis(left: f64, width: f64, height: f64, max: String) -> impl IntoView {
    let base = height + 10.0;
    view! {
        <line x1=left y1=base x2=left + width y2=base stroke="currentColor" stroke-width="0.5" />
        <text x=left - 4.0 y="16" text-anchor="end" font-size="10" fill="currentColor">
            {max}
        </text>
        <text x=left - 4.0 y=base text-anchor="end" font-size="10" fill="currentColor">
            "0"
        </text>
    }
}

/// One row of a [`LatencyChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRow {
    pub name: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Horizontal bars of p50 / p95 / p99 per operation, nested (darkest p50 in front).
#[component]
pub fn LatencyChart(rows: Vec<LatencyRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <p class="text-sm text-slate-500 dark:text-slate-400">
                "No operations in the window yet: the chart of p50, p95 and p99 per operation appears once orderdesk has talked to the database."
            </p>
        }
            .into_any();
    }
    let (label_w, bar_w, row_h) = (220.0, 420.0, 26.0);
    let max = rows.iter().map(|o| o.p99_ms).fold(0.0_f64, f64::max).max(0.001);
    let axis_y = row_h * rows.len() as f64 + 8.0;
    let view_box = format!("0 0 {} {}", label_w + bar_w + 80.0, row_h * rows.len() as f64 + 40.0);
    let width = |v: f64| (v / max * bar_w).max(1.0);
    view! {
        <svg
            role="img"
            aria-label="Latency per operation, milliseconds"
            viewBox=view_box
            class="w-full max-w-3xl text-slate-700 dark:text-slate-300"
            data-chart="latency"
        >
            <title>"p50, p95 and p99 latency per operation (ms)"</title>
            {rows
                .into_iter()
                .enumerate()
                .map(|(i, o)| {
                    let y = i as f64 * row_h + 4.0;
                    view! {
                        <text x=label_w - 8.0 y=y + 15.0 text-anchor="end" font-size="12" fill="currentColor">
                            {o.name.clone()}
                        </text>
                        {[
                            (o.p99_ms, "fill-indigo-200 dark:fill-indigo-900", 18.0),
                            (o.p95_ms, "fill-indigo-400 dark:fill-indigo-700", 12.0),
                            (o.p50_ms, "fill-indigo-700 dark:fill-indigo-400", 6.0),
                        ]
                            .into_iter()
                            .map(|(value, class, h)| {
                                view! {
                                    <rect
                                        x=label_w
                                        y=format!("{:.1}", y + (18.0 - h) / 2.0 + 2.0)
                                        width=format!("{:.1}", width(value))
                                        height=h
                                        class=class
                                    />
                                }
                            })
                            .collect_view()}
                        <text
                            x=format!("{:.1}", label_w + width(o.p99_ms) + 4.0)
                            y=y + 15.0
                            font-size="11"
                            fill="currentColor"
                        >
                            {format!("{:.1}", o.p99_ms)}
                        </text>
                    }
                })
                .collect_view()}
            <line x1=label_w y1=axis_y x2=label_w + bar_w y2=axis_y stroke="currentColor" stroke-width="0.5" />
            <text x=label_w y=axis_y + 16.0 font-size="11" fill="currentColor">
                "0 ms"
            </text>
            <text x=label_w + bar_w y=axis_y + 16.0 text-anchor="end" font-size="11" fill="currentColor">
                {format!("{max:.1} ms (darkest: p50, then p95, lightest: p99)")}
            </text>
        </svg>
    }
    .into_any()
}

/// A vendor's last days: numbers issued (bars) and orders holding them (dots).
#[component]
pub fn IssuedHeldChart(vendor: String, days: Vec<(chrono::NaiveDate, u64, u64)>) -> impl IntoView {
    let max = days.iter().map(|(_, s, o)| (*s).max(*o)).max().unwrap_or(0).max(1) as f64;
    let (left, width, height) = (48.0, 600.0, 160.0);
    let step = width / days.len().max(1) as f64;
    view! {
        <svg
            role="img"
            aria-label=format!("{vendor}: counter sequence and numbered orders per day, last 30 days")
            viewBox=format!("0 0 {} {}", left + width + 10.0, height + 40.0)
            class="w-full max-w-3xl text-slate-700 dark:text-slate-300"
            data-chart="issued-held"
        >
            <title>{format!("{vendor}: numbers issued (bars) and orders holding them (dots) per day")}</title>
            {days
                .into_iter()
                .enumerate()
                .map(|(i, (day, seq, orders))| {
                    let x = left + i as f64 * step;
                    let bh = seq as f64 / max * height;
                    view! {
                        <rect
                            x=format!("{:.1}", x + 1.0)
                            y=format!("{:.1}", height - bh + 10.0)
                            width=format!("{:.1}", step - 2.0)
                            height=format!("{bh:.1}")
                            class="fill-indigo-400 dark:fill-indigo-600"
                        >
                            <title>{format!("{day}: {seq} issued, {orders} orders")}</title>
                        </rect>
                        <circle
                            cx=format!("{:.1}", x + step / 2.0)
                            cy=format!("{:.1}", height - orders as f64 / max * height + 10.0)
                            r="2.5"
                            fill="currentColor"
                        />
                        {(i % 7 == 0)
                            .then(|| {
                                view! {
                                    <text x=format!("{x:.1}") y=height + 26.0 font-size="10" fill="currentColor">
                                        {day.format("%m-%d").to_string()}
                                    </text>
                                }
                            })}
                    }
                })
                .collect_view()}
            <ValueAxis left width height max=format!("{max}") />
            <text x=left + width y=height + 38.0 text-anchor="end" font-size="10" fill="currentColor">
                "day (numbers per day)"
            </text>
        </svg>
    }
}

/// One hour of a [`CallsChart`]: its label and its calls that succeeded, failed (4xx or
/// 5xx) and were refused by a limit.
pub type CallsHour = (String, u64, u64, u64);

/// An API key's calls per hour, stacked: succeeded, then failed, then refused by a limit.
#[component]
pub fn CallsChart(hours: Vec<CallsHour>) -> impl IntoView {
    let max = hours.iter().map(|(_, ok, failed, limited)| ok + failed + limited).max().unwrap_or(0).max(1) as f64;
    let (left, width, height) = (56.0, 640.0, 150.0);
    let step = width / hours.len().max(1) as f64;
    let every = (hours.len() / 8).max(1);
    view! {
        <svg
            role="img"
            aria-label="Calls per hour: succeeded, failed and refused by a limit"
            viewBox=format!("0 0 {} {}", left + width + 10.0, height + 44.0)
            class="w-full max-w-3xl text-slate-700 dark:text-slate-300"
            data-chart="calls"
        >
            <title>"Calls per hour (indigo: succeeded, red: failed, amber: refused by a limit)"</title>
            {hours
                .into_iter()
                .enumerate()
                .map(|(i, (name, ok, failed, limited))| {
                    let x = left + i as f64 * step;
                    let tip = format!("{name}: {ok} succeeded, {failed} failed, {limited} refused by a limit");
                    let mut base = height + 10.0;
                    let parts = [
                        (ok, "fill-indigo-500 dark:fill-indigo-400"),
                        (failed, "fill-red-500 dark:fill-red-400"),
                        (limited, "fill-amber-400 dark:fill-amber-300"),
                    ];
                    view! {
                        <g>
                            <title>{tip}</title>
                            {parts
                                .into_iter()
                                .filter(|(n, _)| *n > 0)
                                .map(|(n, class)| {
                                    let h = n as f64 / max * height;
                                    base -= h;
                                    view! {
                                        <rect
                                            x=format!("{:.1}", x + 1.0)
                                            y=format!("{base:.1}")
                                            width=format!("{:.1}", (step - 2.0).max(1.0))
                                            height=format!("{h:.1}")
                                            class=class
                                        />
                                    }
                                })
                                .collect_view()}
                        </g>
                        {(i % every == 0)
                            .then(|| {
                                view! {
                                    <text x=format!("{x:.1}") y=height + 26.0 font-size="10" fill="currentColor">
                                        {name}
                                    </text>
                                }
                            })}
                    }
                })
                .collect_view()}
            <ValueAxis left width height max=format!("{max}") />
            <text x="4" y=height / 2.0 font-size="10" fill="currentColor">
                "calls"
            </text>
        </svg>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn names_are_text_not_markup() {
        let html = view! { <BarChart label="Failures <b>".into() unit="%".into() bars=vec![("<script>x</script>".into(), 2.0)] /> }
            .to_html();
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(
            html.contains("aria-label=\"Failures &lt;b&gt; (%)\"") || html.contains("aria-label=\"Failures <b> (%)\""),
            "{html}"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let html =
            view! { <BarChart label="Rate".into() unit="%".into() bars=vec![("a".into(), 1.0), ("b".into(), 4.0)] /> }
                .to_html();
        // The largest bar is the full 150 high, the other a quarter of it.
        assert!(html.contains("height=\"150.0\"") && html.contains("height=\"37.5\""), "{html}");
        assert_eq!(html.matches("<rect").count(), 2);
        let empty = view! { <BarChart label="Rate".into() unit="%".into() bars=vec![] /> }.to_html();
        assert!(empty.contains("No data for “Rate”") && !empty.contains("<svg"), "{empty}");
    }

    #[test]
    fn calls_stack_by_what_became_of_them() {
        let hours = vec![("10:00".to_owned(), 6, 3, 1), ("11:00".to_owned(), 0, 0, 0)];
        let html = view! { <CallsChart hours /> }.to_html();
        // 10 calls is the tallest: 6, 3 and 1 of 150.
        assert_eq!(html.matches("<rect").count(), 3, "{html}");
        assert!(
            html.contains("height=\"90.0\"") && html.contains("height=\"45.0\"") && html.contains("height=\"15.0\"")
        );
        assert!(html.contains("10:00: 6 succeeded, 3 failed, 1 refused by a limit"), "{html}");
    }

    #[test]
    fn latency_rows_draw_three_nested_bars_each() {
        let rows = vec![
            LatencyRow { name: "find_orders orders".into(), p50_ms: 1.0, p95_ms: 2.0, p99_ms: 4.0 },
            LatencyRow { name: "audit_append audit_log".into(), p50_ms: 0.5, p95_ms: 1.0, p99_ms: 2.0 },
        ];
        let html = view! { <LatencyChart rows /> }.to_html();
        assert_eq!(html.matches("<rect").count(), 6);
        assert!(html.contains("find_orders orders") && html.contains("4.0 ms (darkest"), "{html}");
    }
}
