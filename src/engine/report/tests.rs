use jiff::Timestamp;

use super::*;

fn empty(catalog: &Catalog) -> Report {
    build(&ReportInputs {
        systems: &[],
        assessments: &[],
        bindings: &[],
        catalog,
        now: Timestamp::UNIX_EPOCH,
    })
}

#[test]
fn the_statement_of_applicability_lists_every_control_even_with_no_system() {
    let catalog = Catalog::builtin();
    let report = empty(&catalog);
    assert_eq!(report.statement_of_applicability.len(), 38);
    let a625 = report
        .statement_of_applicability
        .iter()
        .find(|r| r.id == "A.6.2.5")
        .unwrap();
    assert!(!a625.applicable, "no system, nothing applies");
    assert_eq!(a625.decided, "checked");
    assert!(
        a625.crosswalk
            .eu_ai_act
            .iter()
            .any(|a| a.starts_with("Art."))
    );
    let attested = report
        .statement_of_applicability
        .iter()
        .filter(|r| r.decided == "attested")
        .count();
    assert!(attested > 0 && attested < 38, "{attested}");
    assert_eq!(report.risk_register.inherent.total(), 0);
    assert!(report.inventory.is_empty() && report.approvals.is_empty());
}

#[test]
fn a_heat_map_counts_each_risk_in_its_cell() {
    let mut map = HeatMap::default();
    for (l, s) in [(1, 1), (5, 5), (5, 5), (2, 4), (9, 0)] {
        map.add(l, s);
    }
    assert_eq!(map.total(), 5);
    assert_eq!(map.cells[4][4], 2);
    assert_eq!(map.cells[1][3], 1);
    assert_eq!(map.cells[0][0], 1);
    assert_eq!(
        map.cells[4][0], 1,
        "out of range values are clamped to the scale"
    );
}
