//! A partner's webhook receiver over real HTTP: records every request, answers with the status
//! a test sets (200 unless told otherwise), and checks each request's Standard Webhooks
//! signature against the endpoint's secret, as a partner's system would.

use std::sync::{Arc, Mutex};

use dialogpay::domain::standard_webhooks::SigningSecret;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Route, Server, post};
use serde_json::Value;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct Inner {
    got: Vec<Received>,
    /// The status to answer with; 0 answers 200.
    answer: u16,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let shared = inner.clone();
        let ep = poem::endpoint::make(move |req: Request| {
            let shared = shared.clone();
            async move {
                let h = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let (id, timestamp, signature) = (
                    h("webhook-id"),
                    h("webhook-timestamp"),
                    h("webhook-signature"),
                );
                let body = req.into_body().into_vec().await.unwrap_or_default();
                let answer = {
                    let mut inner = shared.lock().unwrap();
                    inner.got.push(Received {
                        id,
                        timestamp,
                        signature,
                        body,
                    });
                    inner.answer
                };
                let status =
                    poem::http::StatusCode::from_u16(if answer == 0 { 200 } else { answer })
                        .unwrap_or(poem::http::StatusCode::OK);
                Response::builder().status(status).body("thanks")
            }
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/hook", post(ep))));
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    /// Answers every later request with `status`.
    pub fn answer(&self, status: u16) {
        self.inner.lock().unwrap().answer = status;
    }

    /// Every request so far.
    pub fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    /// Every request so far, each checked against `secret` (a bad signature fails the test).
    pub fn verified(&self, secret: &str) -> Vec<Received> {
        let secret = SigningSecret::parse(secret).expect("a whsec_ secret");
        let now = chrono::Utc::now().timestamp();
        let got = self.got();
        for r in &got {
            secret
                .verify(&r.id, &r.timestamp, &r.signature, &r.body, now)
                .unwrap_or_else(|e| panic!("request {} is not signed right: {e}", r.id));
        }
        got
    }
}
