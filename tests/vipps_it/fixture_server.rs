//! The client against a scripted server returning hand-written responses: the wire forms
//! the simulator does not produce (numeric token fields, HTTP-date Retry-After, 202, HTML
//! gateway errors, 2023-style problem bodies, unreadable 200s, repeated 401s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dialogpay::vipps::client::Applied;
use dialogpay::vipps::wire::{CaptureRequest, ErrorBody, ProblemKind};
use dialogpay::vipps::{VippsClient, VippsError};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};

use crate::support::*;

type Script = dyn Fn(&str, usize) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

const TOKEN_NUMERIC: &str = r#"{"token_type":"Bearer","expires_in":3600,"ext_expires_in":0,"expires_on":4102444800,"not_before":1700000000,"resource":"r","access_token":"fixture-token"}"#;

/// Serves `script(path, nth_call_of_that_path)`; returns the base URL and call counts.
async fn serve(script: Arc<Script>) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let c = counts.clone();
    let ep = poem::endpoint::make(move |req: Request| {
        let counts = c.clone();
        let script = script.clone();
        async move {
            let path = req.uri().path().to_owned();
            let n = {
                let mut m = counts.lock().unwrap();
                let e = m.entry(path.clone()).or_insert(0);
                *e += 1;
                *e
            };
            let (status, headers, body) = script(&path, n);
            let mut b =
                Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap());
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(body)
        }
    });
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(ep));
    (format!("http://{addr}"), counts)
}

fn client(base: &str) -> VippsClient {
    VippsClient::with_base_url(&settings(), base).unwrap()
}

fn json() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".into())]
}

#[tokio::test]
async fn numeric_token_fields_202_and_http_date_retry_after() {
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
    let (base, counts) = serve(Arc::new(move |path: &str, _| match path {
        "/accesstoken/get" => (200, json(), TOKEN_NUMERIC.into()),
        p if p.ends_with("/capture") => (202, vec![], String::new()),
        _ => (429, vec![("Retry-After", later.clone())], String::new()),
    }))
    .await;
    let c = client(&base);
    let cap = CaptureRequest {
        amount: 1000,
        description: "x".into(),
    };
    assert_eq!(
        c.capture_charge(MSN, "agr_1", "chr-1", &cap, key("k"))
            .await
            .unwrap(),
        Applied::Accepted
    );
    let e = c.get_agreement(MSN, "agr_1").await.unwrap_err();
    assert!(e.is_retryable());
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
        "{wait:?}"
    );
    assert_eq!(counts.lock().unwrap()["/accesstoken/get"], 1);
}

#[tokio::test]
async fn gateway_html_old_problem_shape_and_unreadable_success() {
    let (base, _) = serve(Arc::new(|path: &str, _| match path {
        "/accesstoken/get" => (200, json(), TOKEN_NUMERIC.replace("3600", "\"3600\"")),
        "/recurring/v3/agreements/agr_html" => (502, vec![("content-type", "text/html".into())], "<html>Bad gateway</html>".into()),
        "/recurring/v3/agreements/agr_old" => (
            400,
            vec![("content-type", "application/json;charset=UTF-8".into())],
            r#"{"type":"https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems#invalid-agreement-id","title":"Bad Request","status":400,"detail":"bad id","extraDetails":[{"field":"agreementId","text":"unknown"}]}"#.into(),
        ),
        _ => (200, json(), "{\"id\": 5".into()),
    }))
    .await;
    let c = client(&base);
    let e = c.get_agreement(MSN, "agr_html").await.unwrap_err();
    assert!(e.is_retryable());
    assert!(
        matches!(&e, VippsError::Api { status: 502, body: ErrorBody::Raw(s), .. } if s.contains("Bad gateway"))
    );
    let e = c.get_agreement(MSN, "agr_old").await.unwrap_err();
    assert!(!e.is_retryable());
    assert_eq!(e.problem_kind(), Some(ProblemKind::InvalidAgreementId));
    assert_eq!(
        e.problem().unwrap().extra_details[0].name.as_deref(),
        Some("agreementId")
    );
    assert!(e.to_string().contains("agreementId: unknown"), "{e}");
    let e = c.get_agreement(MSN, "agr_garbage").await.unwrap_err();
    assert!(matches!(e, VippsError::Decode { status: 200, .. }), "{e:?}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_401_refreshes_exactly_once() {
    let (base, counts) = serve(Arc::new(|path: &str, _| match path {
        "/accesstoken/get" => (200, json(), TOKEN_NUMERIC.into()),
        _ => (
            401,
            json(),
            r#"{"responseInfo":{"responseCode":401,"responseMessage":"Unauthorized"},"result":{"message":"expired"}}"#.into(),
        ),
    }))
    .await;
    let e = client(&base).get_agreement(MSN, "agr_1").await.unwrap_err();
    assert!(e.is_auth());
    let counts = counts.lock().unwrap();
    assert_eq!(counts["/accesstoken/get"], 2);
    assert_eq!(counts["/recurring/v3/agreements/agr_1"], 2);
}

#[tokio::test]
async fn token_endpoint_errors_surface_with_their_status() {
    let (base, _) = serve(Arc::new(|_: &str, n| {
        if n == 1 {
            (500, json(), r#"{"error":"boom"}"#.into())
        } else {
            (400, json(), r#"{"error":"invalid_client"}"#.into())
        }
    }))
    .await;
    let c = client(&base);
    let e = c.get_agreement(MSN, "agr_1").await.unwrap_err();
    assert!(matches!(
        e,
        VippsError::Api {
            status: 500,
            operation: dialogpay::vipps::Operation::AccessToken,
            ..
        }
    ));
    assert!(e.is_retryable());
    let e = c.get_agreement(MSN, "agr_1").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(!e.is_retryable());
}
