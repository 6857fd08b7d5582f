use super::*;

#[tokio::test]
async fn keys_are_fetched_again_for_a_new_key_id_at_most_once_per_interval() {
    let idp = IdentityProvider::start().await;
    let rotated = sign(
        &claims("alice"),
        identity::ROTATED_KEY,
        identity::ROTATED_KEY_ID,
    );

    let jwks = idp.jwks();
    let eager = idp.jwks().with_refresh_interval(Duration::ZERO);
    for verifier in [&jwks, &eager] {
        verifier
            .verify(&token("alice"))
            .await
            .expect("a valid token");
    }
    assert_eq!(idp.fetches(), 2, "each verifier fetches on its first token");
    idp.rotate();
    assert!(
        jwks.verify(&rotated).await.is_err(),
        "within the interval an unknown key id fetches nothing"
    );
    let made_up = sign(&claims("x"), identity::ROTATED_KEY, "made-up");
    assert!(jwks.verify(&made_up).await.is_err());
    assert_eq!(idp.fetches(), 2);

    let who = eager
        .verify(&rotated)
        .await
        .expect("the rotated key, fetched");
    assert_eq!(who.customer.as_str(), "alice");
    assert_eq!(idp.fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_a_503_not_a_guest_and_not_a_401() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let jwks_url = format!(
        "http://{}/.well-known/jwks.json",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let jwks = checkout_http::jwks::Jwks::new(checkout_http::jwks::JwtSettings {
        issuer: identity::ISSUER.into(),
        audience: identity::AUDIENCE.into(),
        audience_claim: checkout_http::jwks::AudienceClaim::Aud,
        jwks_url,
    });
    let app = App::start(Backend::Memory).await.behind_api_gateway(jwks);
    let refused = app
        .anonymous()
        .with_header("authorization", &format!("Bearer {}", token("alice")))
        .post("/carts", json!({"currency": "EUR", "country": "DE"}))
        .await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    assert!(refused.headers.contains_key("retry-after"));
    // Guests never need the provider.
    app.guest_with_cart("EUR", "DE").await;
}

/// A token with a made-up key id, `n`: none of them is among the provider's keys.
fn unknown_key(n: usize) -> String {
    sign(
        &claims("mallory"),
        identity::ROTATED_KEY,
        &format!("made-up-{n}"),
    )
}

/// Polls `condition` every 10 ms until it holds; fails after 5 s.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tokens_with_unknown_key_ids_at_once_cause_one_fetch() {
    let idp = IdentityProvider::start().await;
    let jwks = idp.jwks();
    let mut checks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let jwks = jwks.clone();
        checks.spawn(async move { jwks.verify(&unknown_key(n)).await });
    }
    let valid = jwks.clone();
    checks.spawn(async move { valid.verify(&token("alice")).await });
    let mut refused = 0;
    while let Some(checked) = checks.join_next().await {
        match checked.unwrap() {
            Ok(who) => assert_eq!(who.customer.as_str(), "alice"),
            Err(TokenError::UnknownKey(_)) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(refused, 20);
    assert_eq!(idp.fetches(), 1, "one fetch for all of them");
}

/// During the provider's outage a flood of tokens (their key ids unknown to a cold cache)
/// costs one fetch per interval, failed fetches counted: each is a 503's cause, not a 401's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_identity_provider_is_not_hammered() {
    let idp = IdentityProvider::start().await;
    idp.fail(true);
    let jwks = idp.jwks();
    let mut checks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (unknown, known) = (jwks.clone(), jwks.clone());
        checks.spawn(async move { unknown.verify(&unknown_key(n)).await });
        checks.spawn(async move { known.verify(&token("alice")).await });
    }
    while let Some(checked) = checks.join_next().await {
        assert!(
            matches!(checked.unwrap(), Err(TokenError::KeysUnavailable(_))),
            "the keys are unavailable, the tokens not refused"
        );
    }
    for n in 0..20 {
        assert!(jwks.verify(&unknown_key(n)).await.is_err());
    }
    assert_eq!(idp.fetches(), 1, "one failed fetch, not one per token");

    // Once the interval has passed, one fetch again; when the provider is back, it works.
    let quick = idp.jwks().with_refresh_interval(Duration::from_millis(200));
    assert!(quick.verify(&token("alice")).await.is_err());
    assert!(quick.verify(&token("alice")).await.is_err());
    assert_eq!(idp.fetches(), 2);
    idp.fail(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match quick.verify(&token("alice")).await {
            Ok(who) => break assert_eq!(who.customer.as_str(), "alice"),
            Err(TokenError::KeysUnavailable(_)) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never fetched again"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(idp.fetches(), 3, "one fetch after the interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_with_a_cached_key_does_not_wait_for_a_fetch_in_progress() {
    let idp = IdentityProvider::start().await;
    let jwks = idp.jwks().with_refresh_interval(Duration::ZERO);
    jwks.verify(&token("alice"))
        .await
        .expect("the keys, fetched");
    assert_eq!(idp.fetches(), 1);

    let held = idp.hold().await;
    let stuck = jwks.clone();
    let fetching = tokio::spawn(async move { stuck.verify(&unknown_key(1)).await });
    eventually("the fetch reaches the provider", || idp.fetches() == 2).await;
    let who = tokio::time::timeout(Duration::from_secs(5), jwks.verify(&token("bob")))
        .await
        .expect("a cached key is checked without waiting for the fetch")
        .expect("a valid token");
    assert_eq!(who.customer.as_str(), "bob");
    assert!(!fetching.is_finished(), "the fetch was still held");
    drop(held);
    assert!(matches!(
        fetching.await.unwrap(),
        Err(TokenError::UnknownKey(_))
    ));
}
