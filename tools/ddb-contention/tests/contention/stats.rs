use super::*;

#[tokio::test]
async fn the_stats_are_served_as_json_and_can_be_zeroed() {
    let emulator = start(Settings::default().hold(Duration::from_secs(600))).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();

    let url = format!("{}/_stats", emulator.endpoint());
    let http = reqwest::Client::new();
    let served: Stats = http
        .get(&url)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(served, emulator.stats());
    assert_eq!(served.transactions_cancelled_conflict, 1);
    assert_eq!(served.held_items, 1);

    let zeroed = http.delete(&url).send().await.expect("reset");
    assert_eq!(zeroed.status().as_u16(), 204);
    let stats = emulator.stats();
    assert_eq!(
        (stats.requests, stats.transactions, stats.items.len()),
        (0, 0, 0)
    );
    // The hold is state, not a count: it stays.
    assert!(emulator.is_held(&table, &json_key("X")));
}

#[tokio::test]
async fn the_binary_prints_where_it_listens_and_serves_the_stats() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_ddb-contention"))
        .args([
            "--upstream",
            &upstream(),
            "--hold-ms",
            "5",
            "--throttle-wcu",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its first line");
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"));

    let client = client(&endpoint);
    let table = table(&client).await;
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    let stats: Stats = reqwest::get(format!("{endpoint}/_stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(stats.transactions, 1);
    assert_eq!(stats.write_units, 2);

    child.kill().expect("stop the binary");
    child.wait().expect("reap the binary");
}
