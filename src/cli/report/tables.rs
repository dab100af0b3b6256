//! The report's sections as tables of text, which every format renders its own way.

use super::date;
use crate::engine::report::{HeatMap, Report, SystemState, history::History};

/// One section of the report.
pub struct Section<'a> {
    /// Its heading.
    pub title: &'static str,
    /// Its heat maps (the risk register's), with their captions.
    pub heat_maps: Vec<(&'static str, &'a HeatMap)>,
    /// Its table's column names.
    pub headers: &'static [&'static str],
    /// Its table's rows.
    pub rows: Vec<Vec<String>>,
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The sections, in the order an auditor reads them.
pub fn sections(r: &Report) -> Vec<Section<'_>> {
    let m = &r.summary;
    let phases = m
        .systems_by_phase
        .iter()
        .map(|(phase, n)| format!("{n} {phase}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![
        Section {
            title: "Summary",
            heat_maps: Vec::new(),
            headers: &["figure", "value"],
            rows: [
                ("AI systems", format!("{} ({phases})", r.systems)),
                (
                    "Annex A controls applicable",
                    format!("{} of {}", m.applicable_controls, m.controls),
                ),
                (
                    "Risks outside appetite after treatment",
                    format!("{} of {}", m.risks_outside_appetite, m.risks),
                ),
                ("Approvals in force", m.approvals_in_force.to_string()),
                (
                    "Evidence expired or expiring within 30 days",
                    m.evidence_due.to_string(),
                ),
                ("Open nonconformities", m.nonconformities.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| vec![k.to_owned(), v])
            .collect(),
        },
        Section {
            title: "Statement of Applicability (ISO/IEC 42001 6.1.3)",
            heat_maps: Vec::new(),
            headers: &[
                "control",
                "title",
                "applicable",
                "decided",
                "state per system",
                "bindings",
                "EU AI Act",
                "NIST AI RMF",
                "harmonised standards",
            ],
            rows: r
                .statement_of_applicability
                .iter()
                .map(|s| {
                    let states = s
                        .systems
                        .iter()
                        .map(|st| match st.state {
                            SystemState::Excluded => format!(
                                "{}: excluded ({})",
                                st.system,
                                st.justification.as_deref().unwrap_or_default()
                            ),
                            state => format!("{}: {state:?}", st.system),
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    vec![
                        s.id.clone(),
                        s.title.clone(),
                        yes(s.applicable),
                        s.decided.to_owned(),
                        states,
                        s.bindings.join(", "),
                        s.crosswalk.eu_ai_act.join(", "),
                        s.crosswalk.nist_ai_rmf.join(", "),
                        s.crosswalk.harmonised_standards.join(", "),
                    ]
                })
                .collect(),
        },
        Section {
            title: "AI system inventory",
            heat_maps: Vec::new(),
            headers: &[
                "system",
                "tier",
                "role",
                "owner",
                "oversight",
                "overseers",
                "models",
                "data sets",
                "workloads",
                "phase",
                "controls",
            ],
            rows: r
                .inventory
                .iter()
                .map(|s| {
                    vec![
                        s.system.clone(),
                        s.risk_tier.clone(),
                        s.role.clone(),
                        s.owner.clone(),
                        s.oversight_mode.clone().unwrap_or_default(),
                        s.overseers.join(", "),
                        s.models
                            .iter()
                            .map(|m| format!("{} {}", m.name, m.artifact))
                            .collect::<Vec<_>>()
                            .join("; "),
                        s.datasets
                            .iter()
                            .map(|d| {
                                format!(
                                    "{} ({}, provenance {})",
                                    d.name,
                                    d.usage,
                                    d.provenance.as_deref().unwrap_or("none")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                        s.workloads.join(", "),
                        format!("{:?}", s.phase),
                        s.controls.clone(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Risk register",
            heat_maps: vec![
                ("Inherent risk", &r.risk_register.inherent),
                ("Residual risk", &r.risk_register.residual),
            ],
            headers: &[
                "system",
                "assessment",
                "risk",
                "title",
                "inherent",
                "residual",
                "appetite",
                "within",
                "treatment",
                "owner",
            ],
            rows: r
                .risk_register
                .risks
                .iter()
                .map(|k| {
                    vec![
                        k.system.clone(),
                        k.assessment.clone(),
                        k.id.clone(),
                        k.title.clone(),
                        format!("{} ({:?})", k.inherent_score, k.inherent_level),
                        format!("{} ({:?})", k.residual_score, k.residual_level),
                        k.appetite.to_string(),
                        yes(k.within_appetite),
                        k.treatment.clone(),
                        k.owner.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Approvals ledger",
            heat_maps: Vec::new(),
            headers: &[
                "system",
                "assessment",
                "#",
                "decision",
                "by",
                "at",
                "content",
                "counts",
                "until",
                "why not",
            ],
            rows: r
                .approvals
                .iter()
                .map(|a| {
                    vec![
                        a.system.clone(),
                        a.assessment.clone(),
                        a.index.to_string(),
                        format!("{:?}", a.decision),
                        a.user.clone().unwrap_or_else(|| "(unstamped)".to_owned()),
                        a.at.as_ref().map(date).unwrap_or_default(),
                        a.content_hash.clone().unwrap_or_default(),
                        yes(a.counts),
                        a.until.as_ref().map(date).unwrap_or_default(),
                        a.discounted.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Evidence register (what expires soonest first)",
            heat_maps: Vec::new(),
            headers: &[
                "control",
                "evidence",
                "sha256",
                "attested by",
                "expires",
                "status",
                "binding",
            ],
            rows: r
                .evidence
                .iter()
                .map(|e| {
                    vec![
                        e.control.clone(),
                        e.uri.clone(),
                        e.sha256.clone().unwrap_or_default(),
                        e.attested_by.clone(),
                        date(&e.expires),
                        e.status.to_owned(),
                        e.binding.clone(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Open nonconformities (ISO/IEC 42001 10.2)",
            heat_maps: Vec::new(),
            headers: &["system", "control", "title", "what is wrong", "workload"],
            rows: r
                .nonconformities
                .iter()
                .map(|n| {
                    vec![
                        n.system.clone(),
                        n.control.clone(),
                        n.title.clone(),
                        n.message.clone(),
                        n.workload.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        },
    ];
    if let Some(h) = &r.history {
        out.extend(history(h));
    }
    out
}

/// The sections the records add (`aims report --log`).
fn history(h: &History) -> Vec<Section<'_>> {
    let verified = if h.problems.is_empty() {
        vec![vec![
            "every record verifies".to_owned(),
            format!(
                "{} records in {} segment{}, {}",
                h.records,
                h.segments,
                if h.segments == 1 { "" } else { "s" },
                if h.anchored {
                    "checked against themselves and the anchor in the cluster"
                } else {
                    "checked against themselves (aims log verify --anchors also checks them against the cluster)"
                }
            ),
        ]]
    } else {
        h.problems
            .iter()
            .map(|p| vec!["does not verify".to_owned(), p.clone()])
            .collect()
    };
    vec![
        Section {
            title: "Records (the operator's tamper-evident log)",
            heat_maps: Vec::new(),
            headers: &["check", "detail"],
            rows: verified,
        },
        Section {
            title: "Nonconformity register, from the records (ISO/IEC 42001 10.2)",
            heat_maps: Vec::new(),
            headers: &[
                "system",
                "control",
                "opened",
                "what was wrong",
                "closed",
                "time to close",
            ],
            rows: h
                .nonconformities
                .iter()
                .map(|e| {
                    vec![
                        e.system.clone(),
                        e.control.clone(),
                        moment(&e.opened),
                        e.message.clone(),
                        e.closed.as_ref().map_or_else(|| "open".into(), moment),
                        e.seconds_to_close.map(duration).unwrap_or_default(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Approvals, halts and break-glass, from the records",
            heat_maps: Vec::new(),
            headers: &[
                "at",
                "event",
                "system",
                "assessment",
                "who",
                "content",
                "detail",
            ],
            rows: h
                .events
                .iter()
                .map(|e| {
                    vec![
                        moment(&e.at),
                        e.event.clone(),
                        e.system.clone(),
                        e.assessment.clone(),
                        e.who.clone(),
                        e.content_hash.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect(),
        },
    ]
}

/// The report's line under its title: as of when, and how many systems.
pub fn headline(r: &Report) -> String {
    let systems = match r.systems {
        1 => "1 AI system".to_owned(),
        n => format!("{n} AI systems"),
    };
    format!("As of {}; {systems}.", moment(&r.generated_at))
}

/// A time to the second, in UTC.
fn moment(t: &jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Seconds as days, hours and minutes: `2d 3h`, `4h 5m`, `6m`, `7s`.
fn duration(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}
