use super::*;
use std::cell::Cell;

thread_local! {
    /// MACs computed on this thread (`mac` counts itself in tests).
    pub(super) static MACS: Cell<usize> = const { Cell::new(0) };
}

fn macs_during(f: impl FnOnce()) -> usize {
    MACS.with(|count| count.set(0));
    f();
    MACS.with(Cell::get)
}

const BODY: &[u8] = br#"{"id":"evt_1"}"#;

fn secrets() -> Vec<String> {
    vec!["whsec_new".into(), "whsec_old".into()]
}

fn v1(secret: &str) -> String {
    sign(BODY, secret, 1_000)
        .split_once(",v1=")
        .unwrap()
        .1
        .to_string()
}

#[test]
fn each_secret_is_hashed_once_however_many_candidates() {
    let header = format!(
        "t=1000,v1={},v1={},v1={}",
        "0".repeat(64),
        "f".repeat(64),
        v1("whsec_old")
    );
    let macs = macs_during(|| {
        assert_eq!(
            verify_signature(Some(&header), BODY, &secrets(), 1_000, Some(300)),
            Ok(())
        )
    });
    assert_eq!(macs, 2, "one MAC per secret");
    let wrong = format!("t=1000,v1={},v1={}", "0".repeat(64), "f".repeat(64));
    let macs = macs_during(|| {
        assert_eq!(
            verify_signature(Some(&wrong), BODY, &secrets(), 1_000, Some(300)),
            Err(SignatureError::Mismatch)
        )
    });
    assert_eq!(macs, 2);
}

#[test]
fn empty_non_hex_and_wrongly_sized_entries_are_no_signatures() {
    for header in [
        "t=1000,v1=",
        "t=1000,v1=,v1=,v1=",
        "t=1000,v1=zz",
        "t=1000,v1=abcd",
        &format!("t=1000,v1={}", "a".repeat(66)),
        &format!("t=1000,v1={}", "g".repeat(64)),
    ] {
        let macs = macs_during(|| {
            assert_eq!(
                verify_signature(Some(header), BODY, &secrets(), 1_000, Some(300)),
                Err(SignatureError::Malformed),
                "{header}"
            )
        });
        assert_eq!(macs, 0, "{header}: nothing hashed");
    }
    // Skipped, not fatal: a valid signature after them still verifies.
    let header = format!("t=1000,v1=,v1=abcd,v1={}", v1("whsec_new"));
    assert_eq!(
        verify_signature(Some(&header), BODY, &secrets(), 1_000, Some(300)),
        Ok(())
    );
}

#[test]
fn an_oversized_header_is_refused_before_any_hashing() {
    let valid = v1("whsec_new");
    // 2,500 empty entries (the hostile header), and a valid signature among too many.
    let empties = format!("t=1000{}", ",v1=".repeat(2_500));
    let padded = format!("{empties},v1={valid}");
    let too_many = format!("t=1000{},v1={valid}", ",v1=".repeat(MAX_SIGNATURES));
    let too_long = format!("t=1000,v1={valid},v0={}", "0".repeat(MAX_HEADER_BYTES));
    for header in [&empties, &padded, &too_many, &too_long] {
        let macs = macs_during(|| {
            assert!(
                matches!(
                    SignatureHeader::parse(header),
                    Err(SignatureError::Oversized)
                ),
                "{} bytes",
                header.len()
            );
            assert_eq!(
                verify_signature(Some(header), BODY, &secrets(), 1_000, Some(300)),
                Err(SignatureError::Oversized)
            );
        });
        assert_eq!(macs, 0, "nothing hashed");
    }
    // At the bounds: MAX_SIGNATURES entries, and a header of MAX_HEADER_BYTES, verify.
    let at_count = format!("t=1000{},v1={valid}", ",v1=".repeat(MAX_SIGNATURES - 1));
    assert_eq!(
        verify_signature(Some(&at_count), BODY, &secrets(), 1_000, Some(300)),
        Ok(())
    );
    let short = format!("t=1000,v1={valid},v0=");
    let at_length = format!("{short}{}", "0".repeat(MAX_HEADER_BYTES - short.len()));
    assert_eq!(at_length.len(), MAX_HEADER_BYTES);
    assert_eq!(
        verify_signature(Some(&at_length), BODY, &secrets(), 1_000, Some(300)),
        Ok(())
    );
}
