//! The balance of a split's groups, for the preview and the saved split alike: the
//! sample-ratio line and the tag-mix table with what chance explains.

use leptos::prelude::*;

use crate::api::MixRow;
use crate::components::common::ScrollTable;
use crate::format;
use crate::split as logic;

/// Whether the group sizes match the plan (sample-ratio mismatch test).
#[component]
pub(super) fn SrmLine(check: logic::SizeCheck, testid: &'static str) -> impl IntoView {
    let (class, word) = if check.srm { ("pill pill-warning", "mismatch") } else { ("pill pill-good", "balanced") };
    view! {
        <p class="srm-line" data-testid=testid data-p=check.p_value.to_string() data-srm=check.srm.to_string()>
            <span class=class>{word}</span>
            " "
            {logic::srm_verdict(&check)}
            <span class="muted small">{format!(" χ² = {:.3}", check.chi_square)}</span>
        </p>
    }
}

/// Each group's share of the tag values, largest differences first.
#[component]
pub(super) fn MixTable(names: Vec<String>, sizes: Vec<u64>, rows: Vec<MixRow>, testid: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted small">"No tag groups to compare on this day."</p> }.into_any();
    }
    let head = names.iter().map(|n| view! { <th scope="col" class="num">{n.clone()}</th> }).collect_view();
    let chance = logic::chance_band(0.5, &sizes, engine::stats::Z95);
    let flagged = rows.iter().filter(|r| logic::beyond_chance(r, &sizes)).count();
    view! {
        <p class="muted small">
            "Share of each group holding a tag value, largest differences first (top " {logic::MIX_ROWS}
            "; groups of up to " {logic::MIX_MAX_VALUES} " values). Random groups this size differ by chance: by up to "
            {format!("{:.1}", chance * 100.0)} " points for a value half the users hold (95%). "
            {if flagged == 0 {
                "No difference here is beyond chance (p < 0.001).".to_owned()
            } else {
                format!("⚑ {flagged} beyond chance (p < 0.001): check how the segment was built before launch.")
            }}
        </p>
        <ScrollTable class="compact-table mix-table" testid=testid>
                <thead>
                    <tr>
                        <th scope="col">"Tag"</th>
                        <th scope="col">"Value"</th>
                        {head}
                        <th scope="col" class="num">"Spread"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let raw = r.shares.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
                            let odd = logic::beyond_chance(&r, &sizes);
                            view! {
                                <tr
                                    data-testid="mix-row"
                                    class:beyond-chance=odd
                                    data-tag=r.tag.clone()
                                    data-value=r.value.clone()
                                    data-shares=raw
                                >
                                    <td>{r.tag.clone()}</td>
                                    <td>{r.value.clone()}</td>
                                    {r.shares.iter().map(|s| view! { <td class="num">{format::percent_exact(*s)}</td> }).collect_view()}
                                    <td class="num">
                                        {odd.then_some("⚑ ")}
                                        {format!("{:.2} pp", r.spread * 100.0)}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
        </ScrollTable>
    }
    .into_any()
}
