//! Request ids for `x-request-id`: a random tag drawn once per process, then a
//! counter. Unique across nodes and restarts like a UUID, without a call to
//! the OS random source on every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// Makes ids of the form `<process tag>-<counter>`, both in hex.
#[derive(Clone)]
pub(crate) struct SequentialIds {
    tag: u64,
    next: Arc<AtomicU64>,
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self {
            tag: rand::random(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}-{n:x}", self.tag);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(m: &mut SequentialIds) -> String {
        let req = Request::new(());
        let id = m.make_request_id(&req).unwrap();
        id.header_value().to_str().unwrap().to_string()
    }

    #[test]
    fn ids_are_unique_within_and_across_processes() {
        let mut a = SequentialIds::default();
        let mut a2 = a.clone();
        let first = id(&mut a);
        let second = id(&mut a2);
        assert_ne!(first, second, "clones share the counter");
        assert_eq!(first.split('-').next(), second.split('-').next());
        let mut b = SequentialIds::default();
        let other = id(&mut b);
        assert_ne!(
            first.split('-').next(),
            other.split('-').next(),
            "each process draws its own tag"
        );
    }
}
