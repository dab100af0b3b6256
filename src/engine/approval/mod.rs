//! Approvals of a risk assessment: the content an approval binds to, the operator's signature on
//! each entry, and where the assessment stands.
//!
//! The rules, and who enforces them:
//!
//! 1. Approvals are append-only: the API server's CEL rule, and [`check_append_only`] in the
//!    admission webhook.
//! 2. Only members of the approver groups ([`ApprovalPolicy::approver_groups`]) may add an entry.
//! 3. No self-approval: neither the submitter (`spec.submittedBy`) nor anyone who edited the
//!    assessed content (`spec.editedBy`) may decide on it.
//! 4. An entry is bound to the [`content_hash`] of what was assessed: once the content changes,
//!    the entry no longer counts, and an assessment approved on earlier content is `Stale`.
//! 5. The webhook [`stamp`]s every new entry with who, when and on what content, signed with
//!    HMAC-SHA256 under a key only the operator holds. [`assess`] counts only entries whose
//!    signature verifies, so an entry written while the webhook was off counts for nothing.
//! 6. `min_approvals` distinct approvers are needed.
//!
//! The webhook calls [`check_append_only`], [`check_new_entry`] and [`stamp`]; the controller (with
//! [`Trust::Verify`]) and the offline CLI (with [`Trust::AsWritten`]) call [`assess`]. Everything
//! here is total: no input makes it panic.

mod assess;
mod content;
mod entries;
mod policy;
mod record;
pub(crate) use record::hex;
mod signing;

pub use assess::*;
pub use content::*;
pub use entries::*;
pub use policy::*;
pub use record::*;
pub use signing::*;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use std::collections::BTreeSet;

    use jiff::{SignedDuration, Timestamp};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::{
        Approval, ApprovalStamp, Artifact, AssessmentState, Decision, RiskAssessment,
        RiskAssessmentSpec,
    };
    use crate::testing;

    const NS: &str = "credit";
    const NAME: &str = "scoring-v3";
    const UID: &str = testing::SCORING_UID;
    /// When the fixture was created.
    const CREATED: &str = testing::SCORING_CREATED;
    const APPROVERS: &str = "risk-approvers";
    /// When approvals are given, unless a case says otherwise.
    const T0: &str = "2025-11-01T09:00:00Z";
    /// When cases are assessed, unless they say otherwise: two weeks after T0.
    const NOW: &str = "2025-11-15T00:00:00Z";
    /// T0 + 30d, the fixture's validFor.
    const EXPIRY: &str = "2025-12-01T09:00:00Z";

    /// A change to a fixture, for tables of changes.
    type Change<T> = fn(&mut T);

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn key() -> SigningKey {
        testing::signing_key()
    }

    fn other_key() -> SigningKey {
        SigningKey::new([8u8; 32]).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The shared complete assessment (`testing::scoring_assessment`), submitted by `sam` and
    /// edited by `eve`; the cases approve it by `alice`, `bob` and `carol` (in the approver group)
    /// but not `dan` (a developer). The submitter is not among the editors, so each self-approval
    /// rule is tested alone.
    fn ready() -> RiskAssessment {
        testing::scoring_assessment()
    }

    /// Signs `ra`'s record of who submitted and edited it as the webhook does at create.
    fn seal(ra: &mut RiskAssessment) {
        testing::seal_at_creation(&key(), ra);
    }

    /// The fixture's subject, without editors (they have a table of their own).
    fn subject() -> Subject<'static> {
        Subject {
            uid: UID,
            namespace: NS,
            name: NAME,
            system: "credit-scoring",
            submitter: Some("sam"),
            editors: &[],
        }
    }

    fn entry(index: usize) -> EntryRef<'static> {
        EntryRef {
            subject: subject(),
            index,
        }
    }

    /// Appends an entry as the webhook would: stamped and signed on the current content.
    fn decide(ra: &mut RiskAssessment, decision: Decision, user: &str, groups: &[&str], at: &str) {
        let comment = Some(format!("{user} decided"));
        testing::decide(&key(), ra, decision, comment, (user, groups), t(at));
    }

    fn approve(ra: &mut RiskAssessment, user: &str) {
        decide(ra, Decision::Approve, user, &[APPROVERS], T0);
    }

    fn reject(ra: &mut RiskAssessment, user: &str) {
        decide(ra, Decision::Reject, user, &[APPROVERS], T0);
    }

    /// Changes the assessed content, through admission: the record is signed again over it.
    fn edit(ra: &mut RiskAssessment) {
        ra.spec.risks[1].likelihood = 2;
        seal(ra);
    }

    fn last_stamp(ra: &mut RiskAssessment) -> &mut ApprovalStamp {
        ra.spec
            .approvals
            .last_mut()
            .and_then(|a| a.stamp.as_mut())
            .unwrap()
    }

    fn policy(min_approvals: u8) -> ApprovalPolicy {
        ApprovalPolicy {
            approver_groups: [APPROVERS.to_owned()].into(),
            min_approvals,
        }
    }

    // --- content hash ---------------------------------------------------------------------

    #[test]
    fn the_content_hash_is_sha256_in_lowercase_hex() {
        let hash = content_hash(&ready().spec);
        assert!(super::super::workload::is_sha256_digest(&hash), "{hash}");
    }

    #[test]
    fn the_content_hash_survives_a_serialization_round_trip() {
        let spec = ready().spec;
        let json = serde_json::to_string(&spec).unwrap();
        let back: RiskAssessmentSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(content_hash(&back), content_hash(&spec));
        let yaml = serde_saphyr::to_string(&spec).unwrap();
        let back: RiskAssessmentSpec = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(content_hash(&back), content_hash(&spec));
    }

    #[test]
    fn every_assessed_field_changes_the_content_hash() {
        let cases: [(&str, Change<RiskAssessmentSpec>); 9] = [
            ("scope artifact", |s| {
                s.scope.artifacts.push(Artifact {
                    uri: Some("hf://org/model".into()),
                    sha256: Some("b".repeat(64)),
                    ..Artifact::default()
                })
            }),
            ("scope description", |s| s.scope.description = None),
            ("criteria", |s| s.criteria.acceptance_threshold = 7),
            ("risk likelihood", |s| s.risks[0].likelihood = 4),
            ("risk residual", |s| s.risks[0].residual_severity = Some(4)),
            ("risk removed", |s| {
                s.risks.pop();
            }),
            ("risk order", |s| s.risks.reverse()),
            ("impact assessment", |s| {
                if let Some(i) = s.impact_assessment.as_mut() {
                    i.completed_on = Some("2025-10-15".into());
                }
            }),
            ("validFor", |s| s.valid_for = "31d".into()),
        ];
        let base = ready().spec;
        for (name, change) in cases {
            let mut spec = base.clone();
            change(&mut spec);
            assert_ne!(content_hash(&spec), content_hash(&base), "{name}");
        }
        let mut spec = base.clone();
        spec.impact_assessment = None;
        assert_ne!(content_hash(&spec), content_hash(&base), "no impact");
    }

    #[test]
    fn approvals_and_who_wrote_the_assessment_leave_the_content_hash_alone() {
        let cases: [(&str, Change<RiskAssessment>); 4] = [
            ("approvals", |ra| approve(ra, "alice")),
            ("submittedBy", |ra| {
                ra.spec.submitted_by = Some("mallory".into())
            }),
            ("editedBy", |ra| ra.spec.edited_by.push("mallory".into())),
            ("systemRef", |ra| ra.spec.system_ref.name = "other".into()),
        ];
        let base = ready();
        for (name, change) in cases {
            let mut ra = base.clone();
            change(&mut ra);
            assert_eq!(content_hash(&ra.spec), content_hash(&base.spec), "{name}");
        }
    }

    // --- validFor ---------------------------------------------------------------------------

    #[test]
    fn valid_for_is_a_number_and_a_unit() {
        for (input, seconds) in [
            ("1s", 1),
            ("90m", 5_400),
            ("12h", 43_200),
            ("180d", 15_552_000),
            ("999999d", 86_399_913_600),
            ("007s", 7),
        ] {
            assert_eq!(
                parse_valid_for(input),
                Ok(SignedDuration::from_secs(seconds)),
                "{input}"
            );
        }
    }

    #[test]
    fn malformed_valid_for_is_an_error_not_a_panic() {
        use InvalidValidFor::*;
        let format = |s: &str| Format(s.to_owned());
        for (input, want) in [
            ("", format("")),
            ("d", format("d")),
            ("180", format("180")),
            ("5w", format("5w")),
            ("1D", format("1D")),
            ("-1d", format("-1d")),
            ("+1d", format("+1d")),
            (" 1d", format(" 1d")),
            ("1 d", format("1 d")),
            ("1.5h", format("1.5h")),
            ("1dd", format("1dd")),
            ("١d", format("١d")),
            ("1é", format("1é")),
            ("0s", Zero("0s".into())),
            ("000d", Zero("000d".into())),
            (
                "99999999999999999999d",
                TooLong("99999999999999999999d".into()),
            ),
            (
                "9223372036854775807d",
                TooLong("9223372036854775807d".into()),
            ),
        ] {
            assert_eq!(parse_valid_for(input), Err(want), "{input:?}");
        }
        assert_eq!(
            parse_valid_for("9223372036854775807s"),
            Ok(SignedDuration::from_secs(i64::MAX))
        );
    }

    // --- signing ----------------------------------------------------------------------------

    fn groups() -> Vec<String> {
        strings(&[APPROVERS, "staff"])
    }

    fn input(groups: &[String]) -> StampInput<'_> {
        StampInput {
            entry: entry(2),
            decision: Decision::Approve,
            comment: Some("ok"),
            user: "alice",
            groups,
            at: t(T0),
            content_hash: "sha256:00",
        }
    }

    #[test]
    fn a_signature_verifies_under_its_key() {
        let groups = groups();
        let signature = sign(&key(), &input(&groups));
        assert!(is_sha256_hex_like(&signature), "{signature}");
        assert!(verify(&key(), &input(&groups), &signature));
        assert!(!verify(&other_key(), &input(&groups), &signature));
    }

    fn is_sha256_hex_like(s: &str) -> bool {
        super::super::workload::is_sha256_hex(s)
    }

    #[test]
    fn changing_any_signed_field_breaks_the_signature() {
        let groups = groups();
        let signature = sign(&key(), &input(&groups));
        let cases: [(&str, Change<StampInput<'_>>); 16] = [
            ("uid (deleted and re-created)", |i| {
                i.entry.subject.uid = "other"
            }),
            ("uid unknown", |i| i.entry.subject.uid = ""),
            ("namespace", |i| i.entry.subject.namespace = "other"),
            ("name", |i| i.entry.subject.name = "other"),
            ("systemRef", |i| i.entry.subject.system = "other"),
            ("submitter", |i| i.entry.subject.submitter = Some("alice")),
            ("submitter removed", |i| i.entry.subject.submitter = None),
            ("index", |i| i.entry.index = 3),
            ("decision", |i| i.decision = Decision::Reject),
            ("comment", |i| i.comment = Some("ok!")),
            ("comment removed", |i| i.comment = None),
            ("comment emptied", |i| i.comment = Some("")),
            ("user", |i| i.user = "bob"),
            ("groups removed", |i| i.groups = &[]),
            ("time", |i| i.at = t("2025-11-01T09:00:01Z")),
            ("content hash", |i| i.content_hash = "sha256:01"),
        ];
        for (name, change) in cases {
            let mut changed = input(&groups);
            change(&mut changed);
            assert!(!verify(&key(), &changed, &signature), "{name}");
        }
        let editors = strings(&["eve"]);
        let edited = StampInput {
            entry: EntryRef {
                subject: Subject {
                    editors: &editors,
                    ..subject()
                },
                index: 2,
            },
            ..input(&groups)
        };
        assert!(!verify(&key(), &edited, &signature), "editors");
        assert!(
            !verify(
                &key(),
                &input(&groups),
                &sign(&key().dry_run(), &input(&groups))
            ),
            "signed on a dry run"
        );
        assert!(
            verify(
                &key().dry_run(),
                &input(&groups),
                &sign(&key().dry_run(), &input(&groups))
            ),
            "a dry run verifies its own answer"
        );
        for (name, other) in [
            ("groups reordered", strings(&["staff", APPROVERS])),
            ("group removed", strings(&[APPROVERS])),
            ("groups joined", strings(&[&format!("{APPROVERS}staff")])),
        ] {
            assert!(!verify(&key(), &input(&other), &signature), "{name}");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let none: Vec<String> = Vec::new();
        let a = StampInput {
            entry: EntryRef {
                subject: Subject {
                    namespace: "ab",
                    name: "c",
                    ..subject()
                },
                index: 0,
            },
            ..input(&none)
        };
        let b = StampInput {
            entry: EntryRef {
                subject: Subject {
                    namespace: "a",
                    name: "bc",
                    ..subject()
                },
                index: 0,
            },
            ..input(&none)
        };
        assert_ne!(sign(&key(), &a), sign(&key(), &b));
        let one = strings(&["a,b"]);
        let two = strings(&["a", "b"]);
        assert_ne!(sign(&key(), &input(&one)), sign(&key(), &input(&two)));
        let no_comment = StampInput {
            comment: None,
            ..input(&none)
        };
        let empty_comment = StampInput {
            comment: Some(""),
            ..input(&none)
        };
        assert_ne!(sign(&key(), &no_comment), sign(&key(), &empty_comment));
    }

    #[test]
    fn a_changed_or_malformed_signature_does_not_verify() {
        let groups = groups();
        let good = sign(&key(), &input(&groups));
        let flipped = {
            let mut s = good.clone();
            let last = if s.ends_with('0') { "1" } else { "0" };
            s.replace_range(s.len() - 1.., last);
            s
        };
        for (name, signature) in [
            ("last digit changed", flipped),
            ("uppercase", good.to_uppercase()),
            ("truncated", good[..62].to_owned()),
            ("odd length", good[..63].to_owned()),
            ("extended", format!("{good}00")),
            ("empty", String::new()),
            ("not hex", "zz".repeat(32)),
            ("multibyte", "é".repeat(32)),
            ("all zeros", "0".repeat(64)),
        ] {
            assert!(!verify(&key(), &input(&groups), &signature), "{name}");
        }
    }

    #[test]
    fn signing_keys_are_long_and_never_printed() {
        assert_eq!(SigningKey::new([1u8; 31]).unwrap_err(), WeakKey { len: 31 });
        assert_eq!(SigningKey::new(b"").unwrap_err(), WeakKey { len: 0 });
        let secret = b"correct horse battery staple, 32b";
        let printed = format!("{:?}", SigningKey::new(secret).unwrap());
        assert_eq!(printed, "SigningKey(..)");
        assert!(WeakKey { len: 3 }.to_string().contains("at least 32"));
    }

    #[test]
    fn a_stamp_is_signed_as_kubernetes_stores_it() {
        let approval = Approval {
            decision: Decision::Approve,
            comment: None,
            stamp: None,
        };
        let at = t("2025-11-01T09:00:00.987654321Z");
        let groups = groups();
        let stamp = stamp(
            &key(),
            entry(0),
            &approval,
            "alice",
            &groups,
            at,
            "sha256:00",
        );
        assert_eq!(stamp.at.0, t(T0), "rounded down to the second");
        let stored = Approval {
            stamp: Some(stamp),
            ..approval
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["stamp"]["at"], json!(T0));
        let back: Approval = serde_json::from_value(json).unwrap();
        assert_eq!(back, stored);
        let input = StampInput::of(entry(0), &back).unwrap();
        assert!(verify(
            &key(),
            &input,
            &back.stamp.as_ref().unwrap().signature
        ));
    }

    // --- assess -----------------------------------------------------------------------------

    struct Case {
        name: &'static str,
        setup: fn(&mut RiskAssessment),
        policy: ApprovalPolicy,
        as_written: bool,
        now: &'static str,
        state: AssessmentState,
        approvers: &'static [&'static str],
        discounted: &'static [(usize, DiscountReason)],
        record: Option<RecordProblem>,
    }

    impl Default for Case {
        fn default() -> Self {
            Self {
                name: "",
                setup: |_| {},
                policy: policy(1),
                as_written: false,
                now: NOW,
                state: AssessmentState::PendingApproval,
                approvers: &[],
                discounted: &[],
                record: None,
            }
        }
    }

    #[test]
    fn assess_applies_every_rule() {
        use AssessmentState::*;
        use DiscountReason::*;
        let cases = [
            Case {
                name: "no entries",
                ..Case::default()
            },
            Case {
                name: "an approver approves",
                setup: |ra| approve(ra, "alice"),
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "membership of any one approver group is enough",
                setup: |ra| decide(ra, Decision::Approve, "alice", &["staff", "board"], T0),
                policy: ApprovalPolicy {
                    approver_groups: strings(&[APPROVERS, "board"]).into_iter().collect(),
                    min_approvals: 1,
                },
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "the submitter cannot approve",
                setup: |ra| approve(ra, "sam"),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "an editor cannot approve",
                setup: |ra| approve(ra, "eve"),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "a self-approver cannot approve even without a group restriction",
                setup: |ra| approve(ra, "eve"),
                policy: ApprovalPolicy::default(),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "a user outside the approver groups does not count",
                setup: |ra| decide(ra, Decision::Approve, "dan", &["developers"], T0),
                discounted: &[(0, NotAnApprover)],
                ..Case::default()
            },
            Case {
                name: "without a group restriction, anyone else counts",
                setup: |ra| decide(ra, Decision::Approve, "dan", &[], T0),
                policy: ApprovalPolicy::default(),
                state: Approved,
                approvers: &["dan"],
                ..Case::default()
            },
            Case {
                name: "an entry written while the webhook was off counts for nothing",
                setup: |ra| {
                    ra.spec.approvals.push(Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    })
                },
                discounted: &[(0, Unstamped)],
                ..Case::default()
            },
            Case {
                name: "a hand-written stamp does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    last_stamp(ra).signature = "0".repeat(64);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp signed with another key does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    let (as_is, approval) = (ra.clone(), ra.spec.approvals[0].clone());
                    let input = StampInput::of(EntryRef::of(&as_is, 0), &approval).unwrap();
                    last_stamp(ra).signature = sign(&other_key(), &input);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "groups added to a stamp by hand break its signature",
                setup: |ra| {
                    decide(ra, Decision::Approve, "dan", &["developers"], T0);
                    last_stamp(ra).groups = strings(&[APPROVERS]);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a decision changed under its stamp breaks the signature",
                setup: |ra| {
                    reject(ra, "alice");
                    ra.spec.approvals[0].decision = Decision::Approve;
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp copied from another entry does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    let copy = ra.spec.approvals[0].clone();
                    ra.spec.approvals.push(copy);
                },
                policy: policy(2),
                approvers: &["alice"],
                discounted: &[(1, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp copied from another assessment does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.name = Some("scoring-v4".into());
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "entries copied to the same name re-created (another uid) do not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.uid = Some("another-uid".into());
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "entries copied to the same name re-created for another system do not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.uid = Some("another-uid".into());
                    ra.spec.system_ref.name = "other-system".into();
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp does not survive its submitter rewritten, even with a valid record",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.submitted_by = Some("mallory".into());
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp does not survive an editor removed, even with a valid record",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.edited_by.clear();
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "an editor added after the approval (with the content) leaves it stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                    ra.spec.edited_by.push("dan".into());
                    seal(ra);
                },
                state: Stale,
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a stamp answered on a dry run does not count",
                setup: |ra| {
                    let approval = Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    };
                    let hash = content_hash(&ra.spec);
                    let at = EntryRef::of(ra, 0);
                    let groups = strings(&[APPROVERS]);
                    let stamp = stamp(
                        &key().dry_run(),
                        at,
                        &approval,
                        "alice",
                        &groups,
                        t(T0),
                        &hash,
                    );
                    ra.spec.approvals.push(Approval {
                        stamp: Some(stamp),
                        ..approval
                    });
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a rewritten submitter counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.submitted_by = Some("mallory".into());
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "content changed outside admission (no editor recorded) counts no entry",
                setup: |ra| {
                    ra.spec.risks[0].residual_severity = Some(1);
                    approve(ra, "alice");
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a rewritten editor list counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.edited_by.clear();
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "an unsigned record counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.record_stamp = None;
                },
                record: Some(RecordProblem::Unsigned),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record signed on a dry run counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    let at = t(CREATED);
                    ra.spec.record_stamp = Some(record_stamp_of(&key().dry_run(), ra, at));
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record copied to an assessment created later counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.creation_timestamp = Some(Time(t("2025-10-30T08:00:31Z")));
                },
                record: Some(RecordProblem::NotAtCreation),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record made within the tolerance of the creation counts",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.creation_timestamp = Some(Time(t("2025-10-30T08:00:30Z")));
                },
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "as written, the record is not checked",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.record_stamp = None;
                },
                as_written: true,
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "an approval of earlier content is stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                },
                state: Stale,
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "too few approvals of earlier content is pending, not stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                },
                policy: policy(2),
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "rejected earlier content is pending, not stale",
                setup: |ra| {
                    approve(ra, "alice");
                    reject(ra, "bob");
                    edit(ra);
                },
                discounted: &[(0, StaleContent), (1, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a new approval of the changed content counts",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                    approve(ra, "bob");
                },
                state: Approved,
                approvers: &["bob"],
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a rejection decides",
                setup: |ra| {
                    approve(ra, "alice");
                    reject(ra, "bob");
                },
                state: Rejected,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "a rejection by a self-approver does not count",
                setup: |ra| {
                    reject(ra, "sam");
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "an unsigned rejection does not count",
                setup: |ra| {
                    reject(ra, "bob");
                    last_stamp(ra).signature.clear();
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a rejection of earlier content does not count",
                setup: |ra| {
                    reject(ra, "bob");
                    edit(ra);
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "the same approver twice counts once",
                setup: |ra| {
                    approve(ra, "alice");
                    approve(ra, "alice");
                },
                policy: policy(2),
                approvers: &["alice"],
                discounted: &[(1, DuplicateApprover)],
                ..Case::default()
            },
            Case {
                name: "two distinct approvers meet a minimum of two",
                setup: |ra| {
                    approve(ra, "alice");
                    approve(ra, "alice");
                    approve(ra, "bob");
                },
                policy: policy(2),
                state: Approved,
                approvers: &["alice", "bob"],
                discounted: &[(1, DuplicateApprover)],
                ..Case::default()
            },
            Case {
                name: "a minimum of 0 counts as 1",
                policy: policy(0),
                ..Case::default()
            },
            Case {
                name: "expired at the expiry",
                setup: |ra| approve(ra, "alice"),
                now: EXPIRY,
                state: Expired,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "approved until just before the expiry",
                setup: |ra| approve(ra, "alice"),
                now: "2025-12-01T08:59:59.999999999Z",
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "an unparsable validFor fails closed",
                setup: |ra| {
                    ra.spec.valid_for = "forever".into();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Expired,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "no risks is a draft",
                setup: |ra| {
                    ra.spec.risks.clear();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "no artifacts is a draft",
                setup: |ra| {
                    ra.spec.scope.artifacts.clear();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "no impact assessment is a draft",
                setup: |ra| {
                    ra.spec.impact_assessment = None;
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "an impact assessment not completed is a draft",
                setup: |ra| {
                    if let Some(i) = ra.spec.impact_assessment.as_mut() {
                        i.completed_on = None;
                    }
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "as written, a forged signature is trusted",
                setup: |ra| {
                    approve(ra, "alice");
                    last_stamp(ra).signature = "forged".into();
                },
                as_written: true,
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "as written, an entry still needs a stamp",
                setup: |ra| {
                    ra.spec.approvals.push(Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    })
                },
                as_written: true,
                discounted: &[(0, Unstamped)],
                ..Case::default()
            },
            Case {
                name: "as written, the other rules still hold",
                setup: |ra| {
                    approve(ra, "sam");
                    decide(ra, Decision::Approve, "dan", &["developers"], T0);
                },
                as_written: true,
                discounted: &[(0, SelfApproval), (1, NotAnApprover)],
                ..Case::default()
            },
        ];
        let key = key();
        for case in cases {
            let mut ra = ready();
            (case.setup)(&mut ra);
            let trust = if case.as_written {
                Trust::AsWritten
            } else {
                Trust::Verify(&key)
            };
            let verdict = assess(&ra, &case.policy, trust, t(case.now));
            assert_eq!(verdict.state, case.state, "{}: {verdict:#?}", case.name);
            assert_eq!(verdict.approvers, case.approvers, "{}", case.name);
            let discounted: Vec<_> = verdict
                .discounted
                .iter()
                .map(|d| (d.index, d.reason))
                .collect();
            assert_eq!(discounted, case.discounted, "{}", case.name);
            assert_eq!(verdict.record, case.record, "{}", case.name);
            assert_eq!(
                verdict.content_hash,
                content_hash(&ra.spec),
                "{}",
                case.name
            );
            let timed = matches!(case.state, Approved | Expired);
            assert_eq!(verdict.approved_at.is_some(), timed, "{}", case.name);
            assert_eq!(verdict.expires_at.is_some(), timed, "{}", case.name);
            assert_eq!(
                verdict.rejected_by.is_some(),
                case.state == Rejected,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn an_approval_dates_from_the_entry_that_reached_the_minimum() {
        let mut ra = ready();
        decide(&mut ra, Decision::Approve, "alice", &[APPROVERS], T0);
        decide(
            &mut ra,
            Decision::Approve,
            "bob",
            &[APPROVERS],
            "2025-11-03T10:00:00Z",
        );
        decide(
            &mut ra,
            Decision::Approve,
            "carol",
            &[APPROVERS],
            "2025-11-04T10:00:00Z",
        );
        let verdict = assess(&ra, &policy(2), Trust::Verify(&key()), t(NOW));
        assert_eq!(verdict.state, AssessmentState::Approved);
        assert_eq!(verdict.approvers, ["alice", "bob", "carol"]);
        assert_eq!(verdict.approved_at, Some(t("2025-11-03T10:00:00Z")));
        assert_eq!(verdict.expires_at, Some(t("2025-12-03T10:00:00Z")));
        assert_eq!(verdict.next_change(), verdict.expires_at);
    }

    #[test]
    fn the_verdict_names_the_rejecter_users_and_risk() {
        let mut ra = ready();
        decide(&mut ra, Decision::Approve, "dan", &["developers"], T0);
        reject(&mut ra, "bob");
        reject(&mut ra, "carol");
        let verdict = assess(&ra, &policy(1), Trust::Verify(&key()), t(NOW));
        assert_eq!(verdict.state, AssessmentState::Rejected);
        assert_eq!(verdict.rejected_by.as_deref(), Some("bob"));
        assert_eq!(verdict.discounted[0].user.as_deref(), Some("dan"));
        assert_eq!(verdict.next_change(), None);
        let risk = verdict.risk.unwrap();
        assert_eq!((risk.inherent.score, risk.residual.score), (15, 9));
        assert_eq!(risk.above_appetite, ["R2"]);
    }

    #[test]
    fn with_the_operators_word_what_its_key_found_bad_does_not_count() {
        use crate::api::{DiscountedEntry, RiskAssessmentStatus};
        let mut ra = ready();
        ra.metadata.generation = Some(3);
        approve(&mut ra, "alice");
        // A forged stamp: the CLI has no key to tell, the operator's status says so.
        approve(&mut ra, "mallory");
        ra.spec.approvals[1].stamp.as_mut().unwrap().signature = "forged".into();
        let status = |generation: i64, bad: &[(u32, &str)]| RiskAssessmentStatus {
            observed_generation: Some(generation),
            discounted: bad
                .iter()
                .map(|(index, reason)| DiscountedEntry {
                    index: *index,
                    user: None,
                    reason: (*reason).to_owned(),
                    message: String::new(),
                })
                .collect(),
            ..Default::default()
        };
        // As the operator assessed this generation: mallory's entry is out, alice's counts.
        ra.status = Some(status(3, &[(1, "BadSignature")]));
        let verdict = assess(&ra, &policy(1), Trust::AsRecorded, t(NOW));
        assert_eq!(verdict.state, AssessmentState::Approved);
        assert_eq!(verdict.approvers, ["alice"]);
        assert_eq!(verdict.discounted[0].reason, DiscountReason::BadSignature);
        // Taken as written, the forgery would count: the live report must not do that.
        let written = assess(&ra, &policy(2), Trust::AsWritten, t(NOW));
        assert_eq!(written.approvers, ["alice", "mallory"]);
        // Before the operator has assessed this generation (or with no status), nothing counts.
        for stale in [Some(status(2, &[])), None] {
            ra.status = stale;
            let verdict = assess(&ra, &policy(1), Trust::AsRecorded, t(NOW));
            assert_eq!(verdict.state, AssessmentState::PendingApproval);
            assert!(
                verdict
                    .discounted
                    .iter()
                    .all(|d| d.reason == DiscountReason::NotVerified)
            );
        }
        // What needs no key is decided here as with it: a reason the operator recorded that the
        // CLI can check itself is checked, not taken.
        ra.status = Some(status(3, &[(0, "StaleContent")]));
        let verdict = assess(&ra, &policy(1), Trust::AsRecorded, t(NOW));
        assert_eq!(verdict.approvers, ["alice", "mallory"]);
    }

    #[test]
    fn only_an_approval_still_running_has_a_next_change() {
        let mut ra = ready();
        approve(&mut ra, "alice");
        let key = key();
        for (now, want) in [(NOW, Some(t(EXPIRY))), (EXPIRY, None)] {
            let verdict = assess(&ra, &policy(1), Trust::Verify(&key), t(now));
            assert_eq!(verdict.next_change(), want, "{now}");
        }
        let pending = assess(&ready(), &policy(1), Trust::Verify(&key), t(NOW));
        assert_eq!(pending.next_change(), None);
    }

    // --- admission checks -------------------------------------------------------------------

    #[test]
    fn approvals_can_only_be_appended() {
        let mut ra = ready();
        approve(&mut ra, "alice");
        reject(&mut ra, "bob");
        let old = ra.spec.approvals.clone();
        let with = |change: fn(&mut Vec<Approval>)| {
            let mut new = old.clone();
            change(&mut new);
            new
        };
        let cases: [(&str, Vec<Approval>, Result<(), ApprovalViolation>); 8] = [
            ("identical", old.clone(), Ok(())),
            ("appended", with(|n| n.push(n[0].clone())), Ok(())),
            (
                "decision edited",
                with(|n| n[1].decision = Decision::Approve),
                Err(ApprovalViolation::Edited { index: 1 }),
            ),
            (
                "comment edited",
                with(|n| n[0].comment = None),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
            (
                "stamp dropped (as kubectl apply of a stampless manifest would)",
                with(|n| n[0].stamp = None),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
            (
                "last removed",
                with(|n| {
                    n.pop();
                }),
                Err(ApprovalViolation::Removed { index: 1 }),
            ),
            (
                "first removed",
                with(|n| {
                    n.remove(0);
                }),
                Err(ApprovalViolation::Removed { index: 0 }),
            ),
            (
                "reordered",
                with(|n| n.swap(0, 1)),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
        ];
        for (name, new, want) in cases {
            assert_eq!(check_append_only(&old, &new), want, "{name}");
        }
        assert_eq!(check_append_only(&[], &old), Ok(()), "first entries");
        assert_eq!(check_append_only(&[], &[]), Ok(()), "none");
    }

    #[test]
    fn new_entries_come_from_approvers_on_complete_assessments() {
        let ready = ready().spec;
        let mut draft = ready.clone();
        draft.risks.clear();
        draft.impact_assessment = None;
        let approvers = strings(&[APPROVERS]);
        let developers = strings(&["developers"]);
        type Row<'a> = (
            &'a str,
            &'a RiskAssessmentSpec,
            &'a str,
            &'a [String],
            ApprovalPolicy,
            Result<(), ApprovalViolation>,
        );
        let cases: [Row<'_>; 8] = [
            (
                "an approver",
                &ready,
                "alice",
                &approvers,
                policy(1),
                Ok(()),
            ),
            (
                "anyone without a group restriction",
                &ready,
                "dan",
                &[],
                ApprovalPolicy::default(),
                Ok(()),
            ),
            (
                "the submitter",
                &ready,
                "sam",
                &approvers,
                policy(1),
                Err(ApprovalViolation::SelfApproval { user: "sam".into() }),
            ),
            (
                "an editor",
                &ready,
                "eve",
                &approvers,
                ApprovalPolicy::default(),
                Err(ApprovalViolation::SelfApproval { user: "eve".into() }),
            ),
            (
                "a non-approver",
                &ready,
                "dan",
                &developers,
                policy(1),
                Err(ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: approvers.clone(),
                }),
            ),
            (
                "a user with no groups",
                &ready,
                "dan",
                &[],
                policy(1),
                Err(ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: approvers.clone(),
                }),
            ),
            (
                "a draft",
                &draft,
                "alice",
                &approvers,
                policy(1),
                Err(ApprovalViolation::NotReady {
                    missing: vec![Incomplete::NoRisks, Incomplete::NoImpactAssessment],
                }),
            ),
            (
                "a self-approver is told so first",
                &draft,
                "sam",
                &developers,
                policy(1),
                Err(ApprovalViolation::SelfApproval { user: "sam".into() }),
            ),
        ];
        for (name, spec, user, groups, policy, want) in cases {
            assert_eq!(check_new_entry(spec, user, groups, &policy), want, "{name}");
        }
    }

    #[test]
    fn violations_tell_the_person_what_to_do() {
        for (violation, needles) in [
            (
                ApprovalViolation::Edited { index: 2 },
                &["append-only", "entry 2", "add your decision"][..],
            ),
            (
                ApprovalViolation::Removed { index: 0 },
                &["append-only", "entry 0", "stamps included"],
            ),
            (
                ApprovalViolation::SelfApproval { user: "sam".into() },
                &["sam", "another approver"],
            ),
            (
                ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: strings(&["a", "b"]),
                },
                &["dan", "a, b", "administrator"],
            ),
            (
                ApprovalViolation::NotReady {
                    missing: vec![
                        Incomplete::NoRisks,
                        Incomplete::ImpactAssessmentNotCompleted,
                    ],
                },
                &["Draft", "spec.risks", "completedOn", "complete it"],
            ),
        ] {
            let message = violation.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }

    // --- totality ---------------------------------------------------------------------------

    fn timestamp() -> impl Strategy<Value = Timestamp> {
        (
            Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            0..1_000_000_000i32,
        )
            .prop_map(|(s, n)| Timestamp::new(s, n).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn arbitrary_stamp() -> impl Strategy<Value = ApprovalStamp> {
        (
            "(alice|sam|eve|dan|.{0,6})",
            proptest::collection::vec("(risk-approvers|developers|.{0,6})", 0..3),
            timestamp(),
            "(sha256:[0-9a-f]{64}|.{0,8})",
            "([0-9a-f]{64}|.{0,70})",
        )
            .prop_map(
                |(user, groups, at, content_hash, signature)| ApprovalStamp {
                    user,
                    groups,
                    at: Time(at),
                    content_hash,
                    signature,
                },
            )
    }

    /// An entry arbitrary in every field, and whether to give its stamp the current content hash.
    fn arbitrary_entry() -> impl Strategy<Value = (Approval, bool)> {
        (
            any::<bool>(),
            proptest::option::of(".{0,8}"),
            proptest::option::of(arbitrary_stamp()),
            any::<bool>(),
        )
            .prop_map(|(approve, comment, stamp, current)| {
                let decision = if approve {
                    Decision::Approve
                } else {
                    Decision::Reject
                };
                (
                    Approval {
                        decision,
                        comment,
                        stamp,
                    },
                    current,
                )
            })
    }

    proptest! {
        #[test]
        fn valid_for_parsing_never_panics(s in "\\PC{0,24}", digits in "[0-9]{1,30}", unit in "[smhdx ]?") {
            let _ = parse_valid_for(&s);
            let parsed = parse_valid_for(&format!("{digits}{unit}"));
            if let Ok(duration) = parsed {
                prop_assert!(duration.as_secs() >= 1);
            }
        }

        #[test]
        fn assess_and_content_hash_never_panic(
            likelihoods in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<Option<u8>>()), 0..4),
            threshold in any::<u8>(),
            valid_for in "([0-9]{1,25}[smhd]|\\PC{0,8})",
            min_approvals in any::<u8>(),
            restricted in any::<bool>(),
            as_written in any::<bool>(),
            namespace in proptest::option::of(".{0,6}"),
            entries in proptest::collection::vec(arbitrary_entry(), 0..6),
            users in proptest::collection::vec(("(alice|bob|sam|dan|.{0,4})", any::<bool>(), timestamp()), 0..6),
            now in timestamp(),
        ) {
            let mut ra = ready();
            ra.metadata.namespace = namespace;
            ra.spec.criteria.acceptance_threshold = threshold;
            ra.spec.valid_for = valid_for;
            ra.spec.risks = likelihoods
                .iter()
                .enumerate()
                .map(|(i, &(l, s, r))| {
                    let mut risk = ready().spec.risks[0].clone();
                    risk.id = i.to_string();
                    (risk.likelihood, risk.severity, risk.residual_likelihood) = (l, s, r);
                    risk
                })
                .collect();
            seal(&mut ra);
            let hash = content_hash(&ra.spec);
            prop_assert!(super::super::workload::is_sha256_digest(&hash));
            let key = key();
            // Hand-made entries, arbitrary in every field.
            for (mut approval, current) in entries {
                if let (Some(stamp), true) = (approval.stamp.as_mut(), current) {
                    stamp.content_hash = hash.clone();
                }
                ra.spec.approvals.push(approval);
            }
            // Properly stamped entries at arbitrary times.
            for (user, approve, at) in users {
                let groups = if approve { vec![APPROVERS.to_owned()] } else { Vec::new() };
                let approval = Approval { decision: Decision::Approve, comment: None, stamp: None };
                let index = ra.spec.approvals.len();
                let as_is = ra.clone();
                let stamp = stamp(
                    &key,
                    EntryRef::of(&as_is, index),
                    &approval,
                    &user,
                    &groups,
                    at,
                    &hash,
                );
                ra.spec.approvals.push(Approval { stamp: Some(stamp), ..approval });
            }
            let policy = ApprovalPolicy {
                approver_groups: if restricted { [APPROVERS.to_owned()].into() } else { BTreeSet::new() },
                min_approvals,
            };
            let trust = if as_written { Trust::AsWritten } else { Trust::Verify(&key) };
            let verdict = assess(&ra, &policy, trust, now);
            prop_assert_eq!(&verdict.content_hash, &hash);
            let mut distinct = verdict.approvers.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), verdict.approvers.len());
            if verdict.state == AssessmentState::Approved {
                prop_assert!(verdict.approvers.len() >= policy.required());
                prop_assert!(verdict.expires_at.is_some_and(|e| now < e));
            }
            for approver in &verdict.approvers {
                prop_assert!(!is_self_approver(&ra.spec, approver));
            }
        }
    }
}
