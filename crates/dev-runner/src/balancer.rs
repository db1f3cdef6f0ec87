//! Whether HAProxy routes to a replica: read from its statistics page.
//!
//! A replica accepting connections is not yet a replica receiving requests: HAProxy puts it back
//! in the rotation only after its health checks pass (`rise 2`). A rolling restart that moved on
//! as soon as a replica listened could take the next one down while the first is still out, and
//! with two replicas that is an outage. So the development loop waits for HAProxy's own word,
//! the `status` column of its statistics page as CSV (`GET /;csv`), which says `UP` once the
//! server is in the rotation (`UP 1/2` while it is failing checks, `DOWN 1/2` while passing
//! them, `DOWN`, `MAINT`, ...).
//!
//! HAProxy's word alone is not enough either: a replica restarted faster than HAProxy's
//! detection time was never seen down, so the old process's `UP` would still be showing. The
//! wait therefore starts with the replica's own `GET /readyz` answering 200, then HAProxy's.
//!
//! Both are fetched with a hand-written HTTP/1.0 request: one GET on loopback, answered and
//! closed by the server, is all this needs, and the dev-runner has no HTTP client otherwise.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

/// How often the statistics page is read while waiting (HAProxy checks once a second).
const POLL: Duration = Duration::from_millis(200);

/// A replica behind HAProxy: how to tell that it is in the rotation, and how long it drains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The replica's own address (where its `/readyz` is).
    pub replica: SocketAddr,
    /// HAProxy's statistics page.
    pub stats: SocketAddr,
    /// The backend that holds it.
    pub backend: String,
    /// Its `server` name there.
    pub server: String,
    /// Its `API_SHUTDOWN_DRAIN_SECS`: after SIGTERM it serves this long before stopping.
    pub drain: Duration,
}

impl Rotation {
    /// Its status on the statistics page now (`UP`, `DOWN`, `UP 1/2`, ...), or why it could not
    /// be read.
    pub async fn status(&self) -> Result<String, String> {
        let csv = get(self.stats, "/;csv", "HAProxy's statistics page").await?;
        server_status(&csv, &self.backend, &self.server).ok_or_else(|| {
            format!(
                "HAProxy's statistics do not list server {} of backend {}",
                self.server, self.backend
            )
        })
    }

    /// Waits until the replica is ready (its `/readyz` answers 200) and HAProxy routes to it
    /// (status `UP`); `false` after `bound`.
    pub async fn wait_up(&self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        let mut ready = false;
        loop {
            ready = ready || get(self.replica, "/readyz", "the replica").await.is_ok();
            if ready && self.status().await.is_ok_and(|s| s == "UP") {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(POLL).await;
        }
    }
}

/// The `status` of `server` in `backend`, from HAProxy's statistics CSV.
pub fn server_status(csv: &str, backend: &str, server: &str) -> Option<String> {
    let mut lines = csv.lines();
    let header = lines.next()?.trim_start_matches('#').trim_start();
    let columns: Vec<&str> = header.split(',').collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (px, sv, status) = (at("pxname")?, at("svname")?, at("status")?);
    lines.find_map(|line| {
        let fields: Vec<&str> = line.split(',').collect();
        (fields.get(px) == Some(&backend) && fields.get(sv) == Some(&server))
            .then(|| fields.get(status).map(|s| (*s).to_owned()))
            .flatten()
    })
}

/// `GET path` from `addr` (`what` names it in errors); the body of a 200 answer.
async fn get(addr: SocketAddr, path: &str, what: &str) -> Result<String, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| format!("{what} ({addr}) did not answer in 2 s"))?
        .map_err(|e| format!("cannot read {what} ({addr}): {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{what} ({addr}) answered no HTTP"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{what} ({addr}) answered {status}"));
    }
    // HAProxy answers even an HTTP/1.0 request in chunks.
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if chunked {
        dechunk(body).ok_or_else(|| format!("{what} ({addr}) answered a malformed chunked body"))
    } else {
        Ok(body.to_owned())
    }
}

/// The content of a chunked body (RFC 9112 §7.1; chunk extensions and trailers ignored).
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n")?;
        let size_text = size_line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first columns of HAProxy 2.6's `;csv`, as it prints them (shortened after `status`).
    const CSV: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
        api,FRONTEND,,,0,1,4096,3,0,0,0,0,0,,,,,OPEN,\n\
        api,api-1,0,0,0,1,,1,0,0,,0,,0,0,0,0,UP,1\n\
        api,api-2,0,0,0,1,,1,0,0,,0,,0,0,0,0,DOWN 1/2,1\n\
        api,BACKEND,0,0,0,1,410,2,0,0,0,0,,0,0,0,0,UP,2\n\
        stats,FRONTEND,,,0,1,4096,3,0,0,0,0,0,,,,,OPEN,\n";

    #[test]
    fn a_server_in_the_rotation_reads_up() {
        assert_eq!(server_status(CSV, "api", "api-1").as_deref(), Some("UP"));
    }

    #[test]
    fn a_server_passing_its_first_check_after_a_restart_is_not_yet_up() {
        assert_eq!(
            server_status(CSV, "api", "api-2").as_deref(),
            Some("DOWN 1/2")
        );
    }

    #[test]
    fn a_server_the_page_does_not_list_has_no_status() {
        assert_eq!(server_status(CSV, "api", "api-9"), None);
        assert_eq!(server_status(CSV, "other", "api-1"), None);
        assert_eq!(server_status("", "api", "api-1"), None);
    }

    #[test]
    fn a_chunked_body_is_joined_and_a_cut_one_is_refused() {
        assert_eq!(
            dechunk("5\r\n# px,\r\n3;ext=1\r\nsv\n\r\n0\r\n\r\n").as_deref(),
            Some("# px,sv\n")
        );
        assert_eq!(dechunk("5\r\n# p"), None);
        assert_eq!(dechunk("zz\r\n"), None);
    }

    #[tokio::test]
    async fn an_unreachable_statistics_page_is_an_error_naming_it() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let rotation = Rotation {
            replica: addr,
            stats: addr,
            backend: "api".into(),
            server: "api-1".into(),
            drain: Duration::from_secs(5),
        };
        let err = rotation.status().await.expect_err("nothing listens");
        assert!(
            err.starts_with(&format!("cannot read HAProxy's statistics page ({addr}):")),
            "{err}"
        );
        assert!(!rotation.wait_up(Duration::from_millis(300)).await);
    }
}
