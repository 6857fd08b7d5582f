use super::thousands;

#[test]
fn thousands_are_grouped() {
    assert_eq!(thousands(0.0), "0");
    assert_eq!(thousands(999.4), "999");
    assert_eq!(thousands(1234.5), "1,235");
    assert_eq!(thousands(1_000_000.0), "1,000,000");
    assert_eq!(thousands(f64::INFINITY), "unbounded");
}
