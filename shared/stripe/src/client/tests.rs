use super::*;

#[test]
fn refund_statuses_map_exactly() {
    use TransactionState::*;
    for (status, state) in [
        ("succeeded", Success),
        ("pending", Pending),
        ("requires_action", Pending),
        ("failed", Failure),
        ("canceled", Failure),
    ] {
        assert_eq!(refund_state(status).unwrap(), state, "{status}");
    }
    // Anything else is not taken for a success.
    assert!(refund_state("").is_err());
    assert!(refund_state("processing").is_err());
    assert_eq!(cancel_state("canceled").unwrap(), Success);
    assert!(cancel_state("requires_capture").is_err());
}
