use super::*;

/// Many orders over months and shards, paged small: every order once, newest first, every
/// page full but the last.
async fn pages_list_every_order_once_newest_first_across_shards_and_months(backend: Backend) {
    let app = App::start(backend).await;
    let mut created = Vec::new();
    for i in 0..14 {
        let order = programmatic_order(&app, &format!("many-{i}"), "many@example.com").await;
        created.push(number_of(&order));
        // A few orders a day, a new day every third, about a month every seventh.
        app.advance(match i % 7 {
            6 => time::Duration::days(31),
            i if i % 3 == 2 => time::Duration::days(1),
            _ => time::Duration::seconds(1),
        });
    }
    created.reverse();
    for limit in [1, 3, 5, 20] {
        assert_eq!(
            all_pages(&reader(&app), &[], limit).await,
            created,
            "limit {limit}"
        );
    }
    // Full pages but the last, the cursor of the last page absent.
    let client = reader(&app);
    let first = search(&client, &[("limit", "5")]).await;
    assert_eq!(numbers(&first.body), created[..5]);
    let next = first.body["nextCursor"].as_str().unwrap();
    let second = search(&client, &[("limit", "5"), ("cursor", next)]).await;
    assert_eq!(numbers(&second.body), created[5..10]);
    let next = second.body["nextCursor"].as_str().unwrap();
    let third = search(&client, &[("limit", "5"), ("cursor", next)]).await;
    assert_eq!(numbers(&third.body), created[10..]);
    assert!(third.body.get("nextCursor").is_none());
    // A filtered listing pages the same way.
    let mut filtered = all_pages(&client, &[("email", "many@example.com")], 4).await;
    assert_eq!(filtered, created);
    filtered = all_pages(&client, &[("state", "Open"), ("paymentState", "Paid")], 2).await;
    assert_eq!(filtered, created);
}

on_both_stores!(pages_list_every_order_once_newest_first_across_shards_and_months);

/// Every page of a search through `storefront`, as the use case answers it: the orders'
/// numbers, each page at most `limit`, and how many pages stopped short of `limit` with a
/// cursor (a spent read budget).
async fn use_case_pages(
    storefront: &Storefront,
    input: SearchInput,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut short = 0;
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = storefront
            .order_search()
            .search_orders(
                &Caller::system(),
                &SearchInput {
                    limit: Some(limit.to_string()),
                    cursor: cursor.clone(),
                    ..input.clone()
                },
            )
            .await
            .unwrap();
        assert!(page.orders.len() <= limit);
        seen.extend(page.orders.iter().map(|o| o.order_number.to_string()));
        if page.orders.len() < limit && page.next.is_some() {
            short += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (seen, short),
        }
    }
    panic!("the listing never ended");
}

/// DynamoDB ends a Query page at 1 MB with `LastEvaluatedKey`, however few keys it holds; a
/// search spends a bounded read budget per request. Here every index page is cut after one
/// key and the budget is small: the listing still reaches every order, newest first, only
/// split over more pages, and a filter that turns most orders away still finds its one.
#[tokio::test]
async fn a_search_cut_short_by_dynamodb_or_its_budget_goes_on_where_it_stopped() {
    let app = App::start(Backend::DynamoDb).await;
    let mut created = Vec::new();
    for i in 0..9 {
        let email = match i {
            2 => "needle@example.com",
            _ => "hay@example.com",
        };
        created.push(number_of(
            &programmatic_order(&app, &format!("cut-{i}"), email).await,
        ));
        app.advance(time::Duration::seconds(1));
    }
    created.reverse();
    // The orders were made on the test clock (now, and seconds after); this storefront's
    // clock is the real one, minutes of skew allowed.
    for (page_items, budget) in [(1, 10_000), (1, 20), (3, 40)] {
        let store = app
            .dynamo
            .clone()
            .unwrap()
            .with_query_page_items(page_items)
            .with_search_budget(budget);
        let storefront = Storefront::new(Arc::new(store));
        let (all, short) = use_case_pages(&storefront, SearchInput::default(), 4).await;
        assert_eq!(all, created, "pages of {page_items}, budget {budget}");
        let (needle, needle_short) = use_case_pages(
            &storefront,
            SearchInput {
                email: Some("needle@example.com".into()),
                ..SearchInput::default()
            },
            2,
        )
        .await;
        assert_eq!(
            needle,
            [created[6].as_str()],
            "pages of {page_items}, budget {budget}"
        );
        // A small budget answers short pages with a cursor; the default one never here.
        match budget {
            10_000 => assert_eq!((short, needle_short), (0, 0)),
            _ => assert!(short > 0 && needle_short > 0, "{short}, {needle_short}"),
        }
    }
}
