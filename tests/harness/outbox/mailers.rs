//! Fake mailers ([`Mailbox`] keeps what it is given, [`NoMail`] drops it) and the claim
//! link read back from a confirmation email.

use std::sync::Mutex;

use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::DeliveryError;

use super::CLAIM_URL;

/// A mailer that keeps what it is given.
#[derive(Default)]
pub struct Mailbox(Mutex<Vec<OutgoingEmail>>);

impl Mailbox {
    /// The emails kept so far, oldest first; forgets them.
    pub fn take(&self) -> Vec<OutgoingEmail> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(email.clone());
        Ok(())
    }
}

/// The `email` and `token` of the claim link in an email's text.
pub fn claim_link(email: &OutgoingEmail) -> (String, String) {
    let start = email
        .text
        .find(CLAIM_URL)
        .unwrap_or_else(|| panic!("a claim link in {:?}", email.text));
    let link = email.text[start..].split_whitespace().next().unwrap();
    let query = link.split_once('?').expect("a query").1;
    let mut pairs = query.split('&').map(|pair| pair.split_once('=').unwrap());
    let (email_key, address) = pairs.next().unwrap();
    let (token_key, token) = pairs.next().unwrap();
    assert_eq!((email_key, token_key), ("email", "token"));
    (percent_decode(address), percent_decode(token))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A mailer that accepts everything and sends nothing.
pub struct NoMail;

#[async_trait::async_trait]
impl Mailer for NoMail {
    async fn send(&self, _email: &OutgoingEmail) -> Result<(), DeliveryError> {
        Ok(())
    }
}
