use super::*;

fn tx(kind: TransactionKind, state: TransactionState, cents: i64) -> Transaction {
    Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state,
        amount: Money::new(cents, Currency::EUR),
        interaction_id: uuid::Uuid::new_v4().to_string(),
        timestamp: OffsetDateTime::UNIX_EPOCH,
        reason: None,
        provider_id: None,
    }
}

fn payment(transactions: Vec<Transaction>) -> Payment {
    Payment {
        id: "p".into(),
        amount_planned: Money::new(1000, Currency::EUR),
        psp: "stripe".into(),
        psp_reference: "pi_1".into(),
        provider_payment: None,
        planned_for_total: None,
        transactions,
        failures_compacted: 0,
    }
}

#[test]
fn split_payments_add_up() {
    use TransactionKind::*;
    use TransactionState::*;
    let gift_card = payment(vec![tx(Charge, Success, 300)]);
    let card = payment(vec![tx(Authorization, Success, 700)]);
    let total = Money::new(1000, Currency::EUR);
    assert_eq!(
        payment_state(std::slice::from_ref(&gift_card), total),
        PaymentState::BalanceDue
    );
    assert_eq!(payment_state(&[gift_card, card], total), PaymentState::Paid);
}

#[test]
fn authorize_then_capture_counts_once_and_refunds_release() {
    use TransactionKind::*;
    use TransactionState::*;
    let captured = payment(vec![
        tx(Authorization, Success, 1000),
        tx(Charge, Success, 1000),
    ]);
    assert_eq!(captured.secured(), 1000);
    let refunded = payment(vec![tx(Charge, Success, 1000), tx(Refund, Success, 1000)]);
    let total = Money::new(1000, Currency::EUR);
    assert_eq!(payment_state(&[refunded], total), PaymentState::Refunded);
    let failed = payment(vec![tx(Authorization, Failure, 1000)]);
    assert_eq!(payment_state(&[failed], total), PaymentState::Failed);
    let pending = payment(vec![tx(Authorization, Pending, 1000)]);
    assert_eq!(payment_state(&[pending], total), PaymentState::Pending);
}

#[test]
fn gift_cards_alone_hold_once_the_provider_gave_everything_back() {
    use TransactionKind::*;
    use TransactionState::*;
    let gift_card = |id: &str| Payment {
        id: id.into(),
        psp: GIFT_CARD_PSP.into(),
        psp_reference: "GIFT-1".into(),
        provider_payment: None,
        ..payment(vec![tx(Charge, Success, 300)])
    };
    let captured = payment(vec![
        tx(Authorization, Success, 700),
        tx(Charge, Success, 700),
    ]);
    assert!(!only_gift_cards_hold(&[gift_card("a"), captured.clone()]));
    let mut refunded = captured.clone();
    refunded.transactions.push(tx(Refund, Success, 400));
    assert!(
        !only_gift_cards_hold(&[gift_card("a"), refunded.clone()]),
        "partly refunded"
    );
    refunded.transactions.push(tx(Refund, Success, 300));
    assert!(only_gift_cards_hold(&[gift_card("a"), refunded]));
    let expired = payment(vec![
        tx(Authorization, Success, 700),
        tx(CancelAuthorization, Success, 700),
    ]);
    assert!(only_gift_cards_hold(&[gift_card("a"), expired.clone()]));
    let declined = payment(vec![tx(Authorization, Failure, 700)]);
    assert!(
        !only_gift_cards_hold(&[gift_card("a"), declined]),
        "took nothing"
    );
    assert!(
        !only_gift_cards_hold(&[gift_card("a")]),
        "no provider payment"
    );
    assert!(!only_gift_cards_hold(&[expired]), "no gift card");
    // Two orders paid from one card: their reversal keys differ.
    assert_ne!(
        gift_card("a").reversal_key(Refund),
        gift_card("b").reversal_key(Refund)
    );
}

fn refund(id: &str, cents: i64, state: TransactionState, key: Option<&str>) -> ProviderRefund {
    ProviderRefund {
        id: id.into(),
        amount: Money::new(cents, Currency::EUR),
        state,
        failure: (state == TransactionState::Failure).then(|| "expired_or_canceled_card".into()),
        key: key.map(str::to_string),
    }
}

fn refunded(payment: &Payment) -> i64 {
    payment.refunded()
}

#[test]
fn declines_beyond_the_kept_few_are_counted_and_a_success_still_fits() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![]);
    for _ in 0..60 {
        p.record(tx(Charge, Failure, 1000)).unwrap();
    }
    assert_eq!(p.transactions.len(), KEPT_FAILURES);
    assert_eq!(p.failures_compacted, 55);
    p.record(tx(Charge, Success, 1000)).unwrap();
    assert_eq!(p.secured(), 1000);
    for _ in 1..MAX_TRANSACTIONS {
        p.record(tx(Refund, Pending, 1)).unwrap();
    }
    assert_eq!(p.record(tx(Refund, Pending, 1)), Err(TransactionsFull));
    p.record(tx(Charge, Failure, 1000))
        .expect("a decline always fits");
}

#[test]
fn a_refund_reported_while_the_systems_own_is_pending_counts_once() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![tx(Charge, Success, 1000)]);
    let mut own = tx(Refund, Pending, 1000);
    own.interaction_id = p.reversal_key(Refund);
    p.transactions.push(own);
    // The running total includes the pending refund: nothing new to count.
    p.apply_refund_total(
        Money::new(1000, Currency::EUR),
        "refunded:ch_1:1000",
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(p.transactions.len(), 2);
    // Its report, matched by the key in its metadata, settles it.
    p.apply_refund(
        &refund("re_1", 1000, Success, Some("refund:pi_1")),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(p.transactions.len(), 2);
    assert_eq!(refunded(&p), 1000);
    assert_eq!(p.transactions[1].provider_id.as_deref(), Some("re_1"));
    // Reported again by id: still once.
    p.apply_refund(
        &refund("re_1", 1000, Success, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(refunded(&p), 1000);
}

#[test]
fn a_report_that_came_before_the_providers_id_was_recorded_is_folded_into_the_refund_asked_for() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![tx(Charge, Success, 1000)]);
    let mut own = tx(Refund, Pending, 1000);
    own.interaction_id = p.reversal_key(Refund);
    p.transactions.push(own);
    // Adyen's report names only its own id, which this system has not recorded yet.
    p.apply_refund(
        &refund("8D3EC25D29088FA0", 1000, Success, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(p.transactions.len(), 3, "recorded as a refund of its own");
    assert!(!p.fold_early_reports(), "nothing to fold into yet");
    // The answer to the asking is recorded: the report is that same refund.
    p.transactions[1].provider_id = Some("8D3EC25D29088FA0".into());
    assert!(p.fold_early_reports());
    assert_eq!(p.transactions.len(), 2);
    assert_eq!(p.transactions[1].state, Success);
    assert_eq!(refunded(&p), 1000, "counted once");
    assert!(!p.fold_early_reports(), "folded once");
}

#[test]
fn a_failure_reported_before_the_providers_id_was_recorded_leaves_the_money_owed() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![tx(Authorization, Success, 1000)]);
    let mut own = tx(CancelAuthorization, Pending, 1000);
    own.interaction_id = p.reversal_key(CancelAuthorization);
    p.transactions.push(own);
    let mut failed = refund("6C8F21DC42734039", 1000, Failure, None);
    failed.failure = Some("Transaction not permitted".into());
    p.apply_refund(&failed, OffsetDateTime::UNIX_EPOCH).unwrap();
    p.transactions[1].provider_id = Some("6C8F21DC42734039".into());
    assert!(p.fold_early_reports());
    assert_eq!(p.transactions.len(), 2);
    assert_eq!(p.transactions[1].state, Failure);
    assert_eq!(
        p.transactions[1].reason.as_deref(),
        Some("the refund failed: Transaction not permitted")
    );
    assert!(p.owes_reversal(), "the sweeper asks anew");
    assert_ne!(p.reversal_key(CancelAuthorization), "cancel:pi_1");
}

#[test]
fn a_refund_that_fails_later_puts_the_money_back_to_outstanding() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![tx(Charge, Success, 1000)]);
    let mut own = tx(Refund, Success, 1000);
    own.interaction_id = p.reversal_key(Refund);
    own.provider_id = Some("re_1".into());
    p.transactions.push(own);
    assert_eq!(p.secured(), 0);
    p.apply_refund(
        &refund("re_1", 1000, Failure, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(p.secured(), 1000, "outstanding again");
    assert!(p.owes_reversal());
    assert!(p.reversal_due_at().is_some(), "the sweeper asks again");
    // A late report of its success never undoes the failure.
    p.apply_refund(
        &refund("re_1", 1000, Success, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(p.secured(), 1000);
    assert_ne!(
        p.reversal_key(Refund),
        "refund:pi_1",
        "a new attempt, a new key"
    );
}

#[test]
fn a_dashboard_refund_counted_from_a_total_takes_its_id_when_reported() {
    use TransactionKind::*;
    use TransactionState::*;
    let mut p = payment(vec![tx(Charge, Success, 1000)]);
    p.apply_refund_total(
        Money::new(600, Currency::EUR),
        "refunded:ch_1:600",
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(refunded(&p), 600);
    // Two refunds made the 600; the first is reported by id, then fails.
    p.apply_refund(
        &refund("re_a", 200, Success, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(refunded(&p), 600);
    p.apply_refund(
        &refund("re_a", 200, Failure, None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(refunded(&p), 400);
    // The provider's total no longer counts the failed one; a new refund of 100 raises it.
    p.apply_refund_total(
        Money::new(500, Currency::EUR),
        "refunded:ch_1:500",
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(refunded(&p), 500);
    assert_eq!(p.secured(), 500);
}

#[test]
fn only_money_that_fits_pays_a_saved_order() {
    use TransactionKind::*;
    use TransactionState::*;
    let total = Money::new(1000, Currency::EUR);
    let mut old = payment(vec![tx(Charge, Success, 1200)]);
    old.planned_for_total = Some(Money::new(1200, Currency::EUR));
    assert_eq!(
        fitting(std::slice::from_ref(&old), total).cent_amount,
        0,
        "another total"
    );
    let mut reversing = payment(vec![tx(Charge, Success, 1000)]);
    reversing.planned_for_total = Some(total);
    let mut pending_refund = tx(Refund, Pending, 1000);
    pending_refund.interaction_id = reversing.reversal_key(Refund);
    reversing.transactions.push(pending_refund);
    assert_eq!(
        fitting(std::slice::from_ref(&reversing), total).cent_amount,
        0,
        "being given back"
    );
    assert_eq!(
        secured(std::slice::from_ref(&reversing), Currency::EUR).cent_amount,
        1000
    );
    assert_ne!(
        awaiting_state(&[old.clone(), reversing.clone()], total),
        PaymentState::Paid
    );
    let mut fresh = payment(vec![tx(Charge, Success, 1000)]);
    fresh.planned_for_total = Some(total);
    assert_eq!(
        awaiting_state(&[old, reversing, fresh], total),
        PaymentState::Paid
    );
}
