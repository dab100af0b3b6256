use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::*;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_796_621_400 + second).unwrap()
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A segment of `n` records after its start record, as lines.
fn segment(id: &str, previous: Option<&Head>, n: u64) -> (Segment, Vec<String>) {
    let (mut segment, first) = Segment::start(id, at(0), previous, None, Map::new());
    let mut lines = vec![first];
    for i in 1..=n {
        lines.push(segment.seal(
            at(i64::try_from(i).unwrap()),
            "AdmissionDecision",
            fields(json!({"name": format!("scorer-{i}"), "verdict": "deny"})),
        ));
    }
    (segment, lines)
}

fn check(lines: &[String]) -> Verification {
    verify(lines.iter().map(String::as_str), None)
}

fn problems(lines: &[String]) -> Vec<String> {
    check(lines)
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn an_untouched_log_verifies_whatever_else_it_holds() {
    let (_, mut lines) = segment("a.1", None, 5);
    lines.insert(2, "2026-12-07T05:30:00Z INFO aims-operator running".into());
    let v = check(&lines);
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.records.len(), 6);
    assert_eq!(v.lines, 7);
    assert_eq!(v.segments[0].last, 5);
    assert!(!v.segments[0].closed);
}

#[test]
fn the_hash_is_of_the_canonical_form_whatever_the_key_order_and_spacing() {
    let (_, lines) = segment("a.1", None, 1);
    let value: Value = serde_json::from_str(&lines[1]).unwrap();
    let pretty = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace('\n', " ");
    let mut object: Vec<(String, Value)> = value.as_object().unwrap().clone().into_iter().collect();
    object.reverse();
    let reversed = format!(
        "{{{}}}",
        object
            .iter()
            .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for line in [pretty, reversed] {
        let v = check(&[lines[0].clone(), line.clone()]);
        assert!(v.problems.is_empty(), "{line}: {:?}", v.problems);
    }
}

#[test]
fn records_are_found_behind_prefixes_and_inside_a_pipelines_wrapping() {
    let (_, lines) = segment("a.1", None, 2);
    let wrapped = vec![
        format!("2026-12-07T05:30:00.000000001Z {}", lines[0]),
        format!("2026-12-07T05:30:00.1Z stdout F {}", lines[1]),
        json!({"time": "2026-12-07T05:30:01Z", "log": lines[2]}).to_string(),
    ];
    let v = check(&wrapped);
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.records.len(), 3);
}

#[test]
fn one_edited_one_removed_and_one_reordered_record_are_each_named() {
    let (_, mut lines) = segment("a.1", None, 10);
    lines[3] = lines[3].replace("\"verdict\":\"deny\"", "\"verdict\":\"allow\"");
    lines.remove(5);
    // Records 8 and 9 (now at indexes 7 and 8) change places.
    lines.swap(7, 8);
    assert_eq!(
        problems(&lines),
        [
            "record 3 of segment a.1 (line 4) was edited: its content does not match its hash",
            "record 8 of segment a.1 (line 9) was moved: it comes after record 9",
            "record 5 of segment a.1 was removed (the gap is before line 6)",
        ]
    );
}

#[test]
fn an_edit_whose_hash_was_recomputed_is_caught_by_the_next_link() {
    let (_, mut lines) = segment("a.1", None, 4);
    let mut value: Value = serde_json::from_str(&lines[2]).unwrap();
    value["verdict"] = "allow".into();
    value["hash"] = hash_of(&value).into();
    lines[2] = canonical(&value);
    assert_eq!(
        problems(&lines),
        [
            "record 2 of segment a.1 (line 3) was edited: its hash was recomputed: record 3 no longer links to it"
        ]
    );
}

#[test]
fn a_duplicate_and_a_cut_start_are_named() {
    let (_, lines) = segment("a.1", None, 4);
    let mut copy = lines[2..].to_vec();
    copy.push(lines[3].clone());
    assert_eq!(
        problems(&copy),
        [
            "record 3 of segment a.1 appears again at line 4",
            "segment a.1 is cut off at its start: the log begins at record 2",
        ]
    );
}

#[test]
fn a_restart_is_a_linked_segment_and_a_cut_end_shows_against_the_next_one() {
    let (first, mut lines) = segment("a.1", None, 4);
    let (_, next) = segment("b.2", first.head().as_ref(), 2);
    lines.extend(next.clone());
    assert!(problems(&lines).is_empty());
    assert_eq!(check(&lines).segments.len(), 2);
    // The last two records of the first segment are cut off.
    let mut cut = lines[..3].to_vec();
    cut.extend(next);
    assert_eq!(
        problems(&cut),
        ["segment a.1 is cut off after record 2: segment b.2 shows record 4"]
    );
}

#[test]
fn a_link_to_a_record_held_with_another_hash_is_named() {
    let (first, lines) = segment("a.1", None, 2);
    let mut head = first.head().unwrap();
    head.hash = GENESIS.into();
    let (_, next) = segment("b.2", Some(&head), 1);
    let mut all = lines;
    all.extend(next);
    assert_eq!(
        problems(&all),
        ["segment b.2 links to record 2 of segment a.1, which the log holds with another hash"]
    );
}

#[test]
fn the_anchor_shows_a_cut_end_and_a_rewritten_tail() {
    let (seg, lines) = segment("a.1", None, 5);
    let head = seg.head().unwrap();
    let anchors = BTreeMap::from([("a.1".to_owned(), head.clone())]);
    let check = |lines: &[String]| -> Vec<String> {
        verify(lines.iter().map(String::as_str), Some(&anchors))
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert!(check(&lines).is_empty());
    assert_eq!(
        check(&lines[..4]),
        ["segment a.1 is cut off after record 3: the anchor in the cluster shows record 5"]
    );
    // The last record rewritten with a fresh hash: only the anchor knows.
    let mut value: Value = serde_json::from_str(&lines[5]).unwrap();
    value["verdict"] = "allow".into();
    value["hash"] = hash_of(&value).into();
    let mut rewritten = lines.clone();
    rewritten[5] = canonical(&value);
    assert_eq!(
        check(&rewritten),
        [
            "record 5 of segment a.1 (line 6) was edited: the anchor in the cluster holds another hash for it"
        ]
    );
}

#[test]
fn unreadable_record_lines_are_named_by_line() {
    let (_, mut lines) = segment("a.1", None, 2);
    let cut = lines[1].len() - 20;
    lines[1].truncate(cut);
    lines.push(lines[2].replace("\"seq\":2", "\"seq\":\"two\""));
    let p = problems(&lines);
    assert!(
        p[0].starts_with("line 2: a record that cannot be read: not JSON:"),
        "{p:?}"
    );
    assert_eq!(
        p[1..],
        [
            "line 4: a record that cannot be read: field `seq` is missing or not a whole number",
            "record 1 of segment a.1 was removed (the gap is before line 3)",
        ]
    );
}

#[test]
fn an_events_fields_cannot_take_the_chains_own_names() {
    let (mut seg, _) = Segment::start("a.1", at(0), None, None, Map::new());
    let line = seg.seal(at(1), "Approved", fields(json!({"seq": 99, "system": "s"})));
    let (record, _) = find(&line).unwrap().unwrap();
    assert_eq!(record.seq, 1);
    assert_eq!(record.field("system"), "s");
    assert_eq!(seg.head().unwrap().seq, 1);
}

#[test]
fn a_segment_made_up_whole_shows_only_against_the_anchor() {
    let (real, mut lines) = segment("a.1", None, 2);
    let anchors = BTreeMap::from([("a.1".to_owned(), real.head().unwrap())]);
    // Text that reached the log some other way: a segment consistent in itself.
    let (_, forged) = segment("a.2", real.head().as_ref(), 1);
    lines.extend(forged);
    assert!(check(&lines).problems.is_empty());
    let against = verify(lines.iter().map(String::as_str), Some(&anchors));
    let said: Vec<String> = against.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        said,
        [
            "segment a.2 is not in the anchor in the cluster: the operator did not write it, or it is older than the segments the anchor keeps"
        ]
    );
}

#[test]
fn what_an_event_holds_cannot_break_its_line() {
    let (mut seg, _) = Segment::start("a.1", at(0), None, None, Map::new());
    let hostile = "x\n{\"record\":\"aims/v1\",\"seq\":0}\r\u{2028}";
    let line = seg.seal(
        at(1),
        "AdmissionDecision",
        fields(json!({"message": hostile})),
    );
    assert_eq!(line.lines().count(), 1, "{line}");
    let (record, _) = find(&line).unwrap().unwrap();
    assert_eq!(record.field("message"), hostile);
}

mod tampering {
    use proptest::prelude::*;

    use super::*;

    /// One way to change a collected log.
    #[derive(Clone, Debug)]
    enum Tamper {
        /// A record's field given another value (`at`, the event's fields, or the chain's own).
        Edit(usize, usize),
        /// A record taken out (not the last: a cut end shows only against the anchor).
        Remove(usize),
        /// Two records' places exchanged.
        Swap(usize, usize),
        /// A record written twice.
        Duplicate(usize),
        /// The first record of the log taken out.
        CutStart,
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            (0..64usize, 0..16usize).prop_map(|(r, f)| Tamper::Edit(r, f)),
            (0..64usize).prop_map(Tamper::Remove),
            (0..64usize, 0..64usize).prop_map(|(a, b)| Tamper::Swap(a, b)),
            (0..64usize).prop_map(Tamper::Duplicate),
            Just(Tamper::CutStart),
        ]
    }

    /// Changes `lines` as `t` says; `false` when the log means the same after it (a record swapped
    /// with itself, or with one of another segment).
    fn apply(lines: &mut Vec<String>, t: &Tamper) -> bool {
        let n = lines.len();
        match *t {
            Tamper::Edit(r, f) => {
                let r = r % n;
                let mut value: Value = serde_json::from_str(&lines[r]).unwrap();
                let object = value.as_object_mut().unwrap();
                let keys: Vec<String> = object.keys().filter(|k| *k != "hash").cloned().collect();
                let key = &keys[f % keys.len()];
                let old = object[key].clone();
                object[key] = match old {
                    Value::String(s) => Value::String(format!("{s}x")),
                    Value::Number(n) => Value::from(n.as_u64().unwrap_or(0) + 1),
                    Value::Bool(b) => Value::Bool(!b),
                    other => Value::String(format!("{other}")),
                };
                lines[r] = canonical(&value);
            }
            Tamper::Remove(r) => {
                lines.remove(r % (n - 1));
            }
            Tamper::Swap(a, b) => {
                let (a, b) = (a % n, b % n);
                // Records of two segments in either order are the same log: segments of two
                // replicas interleave as their lines were collected.
                let segment = |i: usize| find(&lines[i]).unwrap().unwrap().0.segment;
                if a == b || segment(a) != segment(b) {
                    return false;
                }
                lines.swap(a, b);
            }
            Tamper::Duplicate(r) => {
                let copy = lines[r % n].clone();
                lines.insert(r % n + 1, copy);
            }
            Tamper::CutStart => {
                lines.remove(0);
            }
        }
        true
    }

    proptest! {
        /// Whatever single change is made to a log of two linked segments, the check says so; and
        /// an untouched log verifies.
        #[test]
        fn no_single_change_goes_unseen(a in 1..12u64, b in 1..12u64, t in tamper()) {
            let (first, mut lines) = segment("a.1", None, a);
            let (_, next) = segment("b.2", first.head().as_ref(), b);
            lines.extend(next);
            prop_assert!(check(&lines).problems.is_empty());
            let mut changed = lines.clone();
            if apply(&mut changed, &t) {
                prop_assert!(
                    !check(&changed).problems.is_empty(),
                    "{t:?} went unseen:\n{}",
                    changed.join("\n")
                );
            }
        }
    }
}
