//! The client's HTTP plumbing: its construction, and the POSTs (with their idempotency key)
//! and GETs the port's calls are made of, each answer read into a type or a `PspError`.

use serde::Deserialize;

use checkout_domain::ports::psp::PspError;

use super::StripeClient;

impl StripeClient {
    /// `base_url` is `https://api.stripe.com` in production; tests point it at a fake.
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        StripeClient {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("a TLS backend is compiled in"),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            secret_key: secret_key.into(),
        }
    }

    pub(super) async fn send(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<reqwest::Response, PspError> {
        self.http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))
    }

    /// Like `post`, but a card error (HTTP 402) is an answer, not a failure.
    pub(super) async fn post_or_declined<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Result<T, String>, PspError> {
        #[derive(Deserialize)]
        struct CardError {
            error: CardErrorBody,
        }
        #[derive(Deserialize)]
        struct CardErrorBody {
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            code: Option<String>,
        }
        let response = self.send(path, form, idempotency_key).await?;
        let status = response.status();
        if status == reqwest::StatusCode::PAYMENT_REQUIRED {
            let error: CardError = response
                .json()
                .await
                .map_err(|e| PspError(format!("POST {path}: {e}")))?;
            let reason = error
                .error
                .message
                .or(error.error.code)
                .unwrap_or_else(|| "declined".into());
            return Ok(Err(reason));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PspError(format!("POST {path}: {status}: {body}")));
        }
        response
            .json()
            .await
            .map(Ok)
            .map_err(|e| PspError(format!("POST {path}: {e}")))
    }

    /// A POST whose every non-2xx answer, a card error included, is a failure.
    pub(super) async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, PspError> {
        self.post_or_declined(path, form, idempotency_key)
            .await?
            .map_err(|reason| PspError(format!("POST {path}: 402: {reason}")))
    }

    /// A GET of `path` with `query`: `None` when Stripe has no such object (404).
    pub(super) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, PspError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .query(query)
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| PspError(format!("GET {path}: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(PspError(format!("GET {path}: {status}")));
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|e| PspError(format!("GET {path}: {e}")))
    }

    /// A GET of an object that must exist: a 404 is a failure too.
    pub(super) async fn get_found<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PspError> {
        self.get(path, query)
            .await?
            .ok_or_else(|| PspError(format!("GET {path}: 404 Not Found")))
    }
}
