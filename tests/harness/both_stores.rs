//! [`on_both_stores!`](crate::on_both_stores): each scenario on both stores.

/// Runs each listed scenario once on the embedded store and once on DynamoDB Local, so the
/// two stores cannot drift apart.
///
/// `on_both_stores!(multi_thread: scenario, ...)` runs them on a multi-threaded runtime, for
/// scenarios whose concurrent tasks must really run in parallel.
#[macro_export]
macro_rules! on_both_stores {
    (multi_thread: $($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::DynamoDb).await
                }
            )*
        }
    };
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Backend::DynamoDb).await
                }
            )*
        }
    };
}
