//! Sending a request and reading its answer, for the tests of every server.

use reqwest::{RequestBuilder, Response};
use serde_json::Value;

/// Sends `request`; a transport failure fails the test.
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("the request is answered")
}

/// The body of `response` as JSON.
pub async fn json_body(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}
