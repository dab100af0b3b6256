//! Bounds on what one client, or any number of them, can make the webhook server hold: time
//! (handshake, headers, the whole request), size (headers, body), and concurrency (connections,
//! and bytes of bodies in memory at once).
//!
//! Memory stays bounded whatever the clients do: at most [`Limits::max_connections`] connections
//! are served (more are closed at once), each buffers at most [`Limits::max_header_bytes`] before
//! its request's body is read, and bodies are read only against a budget of bytes shared by every
//! request. A request waits for its share of the budget, reads its body and gets its answer
//! within [`Limits::request_timeout`], or is cut off.
//!
//! The budget has two pools, so that a few large bodies cannot hold up the many small ones real
//! reviews are (a Deployment's review is a few KiB): bodies up to [`Limits::small_body`] draw on
//! [`Limits::small_budget`], larger ones (and bodies of unknown length) on
//! [`Limits::large_budget`]. Each pool serves its requests in the order they came.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use tokio::sync::Semaphore;

/// The bounds of the webhook server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a connection may take to send a request's headers; also how long a kept-alive
    /// connection may stay idle between requests.
    pub header_read_timeout: Duration,
    /// How long a request may take from its headers to its answer: waiting for its share of the
    /// body budget, reading the body, deciding.
    pub request_timeout: Duration,
    /// The largest request head (request line and headers) read.
    pub max_header_bytes: usize,
    /// The largest body read.
    pub max_body: usize,
    /// The most connections served at once, in their handshake or after it; more are closed as
    /// soon as they are accepted.
    pub max_connections: usize,
    /// The most connections in their TLS handshake at once; past it, a new connection drops the
    /// oldest handshake when that one is older than [`Limits::handshake_grace`] (and is closed
    /// otherwise), so that clients that never finish theirs cannot keep a real client's from
    /// starting (with mutual TLS, nobody else gets past the handshake).
    pub max_handshakes: usize,
    /// How long a handshake keeps its place against newer ones when every place is taken.
    pub handshake_grace: Duration,
    /// Bodies up to this size draw on [`Limits::small_budget`].
    pub small_body: usize,
    /// The most bytes of small bodies held at once, over every connection.
    pub small_budget: usize,
    /// The most bytes of larger bodies held at once, over every connection.
    pub large_budget: usize,
}

impl Limits {
    /// The most bytes of request bodies held at once.
    pub fn body_budget(&self) -> usize {
        self.small_budget + self.large_budget
    }
}

impl Default for Limits {
    /// The API server waits at most 30 s for a webhook (the chart sets 5 s) and sends a review in
    /// one write; these bounds leave a real review far inside them.
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_body: super::review::MAX_BODY,
            max_connections: 256,
            max_handshakes: 128,
            handshake_grace: Duration::from_secs(1),
            small_body: 1024 * 1024,
            small_budget: 16 * 1024 * 1024,
            large_budget: 3 * super::review::MAX_BODY,
        }
    }
}

/// The unit the body budget is counted in.
const UNIT: usize = 1024;

/// What the body bound shares between requests.
struct Bounded {
    small: Semaphore,
    large: Semaphore,
    small_body: usize,
    max_body: usize,
    request_timeout: Duration,
}

/// A pool of `budget` bytes that can hold at least one body of `largest` bytes.
fn pool(budget: usize, largest: usize) -> Semaphore {
    let units = budget.max(largest).div_ceil(UNIT);
    Semaphore::new(units.min(Semaphore::MAX_PERMITS))
}

/// `router` with every request held to `limits`: a body larger than [`Limits::max_body`] is
/// refused (413) without being read, and a request not answered within
/// [`Limits::request_timeout`] is cut off (408). Both answers close the connection.
pub fn bound(router: Router, limits: &Limits) -> Router {
    let small_body = limits.small_body.min(limits.max_body);
    let state = Arc::new(Bounded {
        small: pool(limits.small_budget, small_body),
        large: pool(limits.large_budget, limits.max_body),
        small_body,
        max_body: limits.max_body,
        request_timeout: limits.request_timeout,
    });
    router.layer(axum::middleware::from_fn_with_state(state, bounded))
}

async fn bounded(State(bounds): State<Arc<Bounded>>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(bounds.request_timeout, read_then_answer(&bounds, req, next)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request was not read and answered within {:?}",
                bounds.request_timeout
            ),
        ),
    }
}

async fn read_then_answer(bounds: &Bounded, req: Request, next: Next) -> Response {
    let declared = match req.headers().get(header::CONTENT_LENGTH) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| v.parse::<usize>().ok()) {
            Some(len) => Some(len),
            None => return refuse(StatusCode::BAD_REQUEST, "unreadable Content-Length".into()),
        },
    };
    if declared.is_some_and(|len| len > bounds.max_body) {
        return too_large(bounds.max_body);
    }
    // A body of unknown length (chunked) reserves the largest one.
    let reserve = declared.unwrap_or(bounds.max_body);
    let units = u32::try_from(reserve.div_ceil(UNIT)).unwrap_or(u32::MAX);
    let pool = if reserve <= bounds.small_body {
        &bounds.small
    } else {
        &bounds.large
    };
    let Ok(_permit) = pool.acquire_many(units).await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    };
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body, reserve).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return too_large(reserve.min(bounds.max_body)),
        Err(BodyError::Broken(e)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            );
        }
    };
    // The permit is held until the answer is ready: the handler's copies of the review are
    // covered by the same budget.
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

enum BodyError {
    TooLarge,
    Broken(axum::Error),
}

/// Reads `body` into one buffer of at most `limit` bytes, allocated once.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(limit.min(64 * 1024));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        if buf.capacity() < limit && buf.len() + chunk.len() > buf.capacity() {
            buf.reserve_exact(limit - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn too_large(limit: usize) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {limit} bytes"),
    )
}

/// A plain-text refusal that closes the connection: what such a client sent is not read on.
fn refuse(status: StatusCode, message: String) -> Response {
    tracing::debug!(%status, %message, "webhook request refused");
    let mut response = (status, message).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    /// Bodies of up to 1,000 bytes, up to 100 of them small, in pools of `small` and `large`
    /// bytes.
    fn limits(small: usize, large: usize, timeout_ms: u64) -> Limits {
        Limits {
            max_body: 1000,
            small_body: 100,
            small_budget: small,
            large_budget: large,
            request_timeout: Duration::from_millis(timeout_ms),
            ..Limits::default()
        }
    }

    /// A router that answers with the length of the body it got.
    fn echo_len() -> Router {
        Router::new().route(
            "/",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
    }

    fn request(len: Option<usize>, body: Body) -> Request {
        let mut req = Request::post("/");
        if let Some(len) = len {
            req = req.header(header::CONTENT_LENGTH, len);
        }
        req.body(body).unwrap()
    }

    async fn text(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A body that sends `first` and then nothing, ever.
    fn stalled(first: &'static [u8]) -> Body {
        Body::from_stream(
            futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) })
                .chain(futures::stream::pending()),
        )
    }

    #[tokio::test]
    async fn bodies_within_the_limit_pass_whole_and_larger_ones_are_refused_unread() {
        let router = bound(echo_len(), &limits(4000, 4000, 1000));
        for (declared, body, status, answer) in [
            (Some(3), Body::from("abc"), StatusCode::OK, "3"),
            (None, Body::from(vec![b'x'; 1000]), StatusCode::OK, "1000"),
            (
                Some(1000),
                Body::from(vec![b'x'; 1000]),
                StatusCode::OK,
                "1000",
            ),
            (
                None,
                Body::from(vec![b'x'; 1001]),
                StatusCode::PAYLOAD_TOO_LARGE,
                "",
            ),
            // Declared too large: refused before a byte is read (this body would never end).
            (Some(1001), stalled(b"x"), StatusCode::PAYLOAD_TOO_LARGE, ""),
        ] {
            let (got, text) = text(
                router
                    .clone()
                    .oneshot(request(declared, body))
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(got, status, "{declared:?}: {text}");
            if !answer.is_empty() {
                assert_eq!(text, answer);
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_stalls_is_cut_off_at_the_request_timeout() {
        let router = bound(echo_len(), &limits(4000, 4000, 200));
        let start = std::time::Instant::now();
        let response = router
            .oneshot(request(Some(10), stalled(b"12345")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn bodies_wait_for_the_budget_and_never_exceed_it() {
        // Room for two 1000-byte bodies at once.
        let held = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let router = {
            let (held, most) = (held.clone(), most.clone());
            Router::new().route(
                "/",
                post(move |body: Bytes| {
                    let (held, most, mut released) = (held.clone(), most.clone(), released.clone());
                    async move {
                        let now = held.fetch_add(body.len(), Ordering::SeqCst) + body.len();
                        most.fetch_max(now, Ordering::SeqCst);
                        let _ = released.wait_for(|r| *r).await;
                        held.fetch_sub(body.len(), Ordering::SeqCst);
                        "done"
                    }
                }),
            )
        };
        let router = bound(router, &limits(1000, 2000, 5000));
        let requests: Vec<_> = (0..6)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move {
                    router
                        .oneshot(request(Some(1000), Body::from(vec![0u8; 1000])))
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        // Two are in the handler; the others wait for the budget.
        while held.load(Ordering::SeqCst) < 2000 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(most.load(Ordering::SeqCst), 2000);
        release.send(true).unwrap();
        for r in requests {
            assert_eq!(r.await.unwrap(), StatusCode::OK);
        }
        assert_eq!(most.load(Ordering::SeqCst), 2000);
    }

    #[tokio::test]
    async fn waiting_for_the_budget_ends_at_the_timeout_and_large_bodies_never_hold_up_small_ones()
    {
        let router = bound(echo_len(), &limits(1000, 1000, 300));
        // A chunked body reserves the largest body: the whole large pool, and it never ends.
        let hog = tokio::spawn(router.clone().oneshot(request(None, stalled(b"x"))));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let (waiting, small) = tokio::join!(
            router
                .clone()
                .oneshot(request(Some(500), Body::from(vec![0u8; 500]))),
            router.oneshot(request(Some(3), Body::from("abc"))),
        );
        assert_eq!(waiting.unwrap().status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(text(small.unwrap()).await, (StatusCode::OK, "3".to_owned()));
        assert_eq!(
            hog.await.unwrap().unwrap().status(),
            StatusCode::REQUEST_TIMEOUT
        );
    }

    #[test]
    fn the_defaults_bound_memory_and_leave_real_reviews_room() {
        let l = Limits::default();
        assert!(l.large_budget >= l.max_body && l.small_budget >= l.small_body);
        // A Deployment's review is a few KiB: a thousand fit in the small pool at once.
        assert!(l.small_budget / (16 * 1024) >= 1000);
        // A review is at most the API server's 3 MiB request plus the stored old object.
        assert!(l.max_body >= 6 * 1024 * 1024);
        assert!(l.request_timeout <= Duration::from_secs(30));
        // Worst case held at once, without TLS and allocator overhead: 64 MiB.
        assert!(l.max_connections * l.max_header_bytes + l.body_budget() <= 64 * 1024 * 1024);
    }
}
