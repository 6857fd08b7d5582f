use super::*;

#[test]
fn emails_keep_the_local_part_and_lower_the_domain() {
    assert_eq!(
        Email::parse(" Ada.L@Example.COM ").unwrap().as_str(),
        "Ada.L@example.com"
    );
    for bad in [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
        "ada@.com",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn session_tokens_hash_stably_and_never_debug_print() {
    let token = SessionToken::generate();
    assert_eq!(
        token.hash(),
        SessionToken::from_client(token.expose()).unwrap().hash()
    );
    assert_ne!(token.hash(), SessionToken::generate().hash());
    assert!(!format!("{token:?}").contains(token.expose()));
}
