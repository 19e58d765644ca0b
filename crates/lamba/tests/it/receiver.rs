//! A tiny HTTP/1.1 webhook receiver on 127.0.0.1 for the tests: it records
//! every request it hears (with when it arrived) and answers from a script
//! (`[500, 200]`: 500 first, then 200 for ever), or hangs: reads the
//! request and never answers, holding the connection open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the receiver does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answers this status with an empty body.
    Status(u16),
    /// Reads the request and never answers; the connection stays open.
    Hang,
}

/// One request the receiver heard: lowercase header names, the raw body.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: std::time::Instant,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the receiver did with it.
    pub answer: Answer,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (a delivery's envelope).
    pub fn envelope(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The envelope's `id`.
    pub fn event_id(&self) -> String {
        self.envelope()["id"].as_str().unwrap().to_owned()
    }

    /// `X-Lamba-Event`.
    pub fn event_type(&self) -> String {
        self.header("x-lamba-event").unwrap_or_default().to_owned()
    }

    /// Whether `X-Lamba-Signature` is what Python computes for `secret`,
    /// this request's `X-Lamba-Timestamp` and its raw body.
    pub fn signed_with(&self, secret: &str) -> bool {
        let timestamp = self.header("x-lamba-timestamp").unwrap();
        let signature = self.header("x-lamba-signature").unwrap();
        python_signature(secret, timestamp, &self.body) == signature
    }
}

struct State {
    script: Vec<Answer>,
    /// Requests answered from the current script.
    served: usize,
    delay: Duration,
    heard: Vec<Received>,
}

impl State {
    fn next_answer(&mut self) -> Answer {
        let answer = self
            .script
            .get(self.served)
            .or(self.script.last())
            .copied()
            .unwrap_or(Answer::Status(200));
        self.served += 1;
        answer
    }
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// Answers `status` to every request.
    pub async fn start(status: u16) -> Self {
        Self::scripted(&[Answer::Status(status)]).await
    }

    /// Answers from `script`, repeating its last answer.
    pub async fn scripted(script: &[Answer]) -> Self {
        Self::on_port(0, script).await
    }

    /// As [`Receiver::scripted`], on a port of the caller's choosing.
    pub async fn on_port(port: u16, script: &[Answer]) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hooks/lamba");
        let state = Arc::new(Mutex::new(State {
            script: script.to_vec(),
            served: 0,
            delay: Duration::ZERO,
            heard: Vec::new(),
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(serve_one(stream, shared));
            }
        });
        Self { url, state }
    }

    /// Replaces the script; the next request gets its first answer.
    pub fn set_script(&self, script: &[Answer]) {
        let mut state = self.state.lock().unwrap();
        state.script = script.to_vec();
        state.served = 0;
    }

    /// Waits this long before each answer.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn heard(&self) -> Vec<Received> {
        self.state.lock().unwrap().heard.clone()
    }

    /// Polls every 50 ms until `done` holds for what was heard; panics
    /// after `timeout`, saying `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = std::time::Instant::now();
        loop {
            let heard = self.heard();
            if done(&heard) {
                return heard;
            }
            if started.elapsed() > timeout {
                let summary: Vec<String> = heard
                    .iter()
                    .map(|r| format!("{} {}", r.event_type(), String::from_utf8_lossy(&r.body)))
                    .collect();
                panic!(
                    "the receiver did not hear {what} within {timeout:?}; it heard {}:\n{}",
                    heard.len(),
                    summary.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn serve_one(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some((headers, body)) = read_request(&mut stream).await else {
        return;
    };
    let (answer, delay) = {
        let mut state = state.lock().unwrap();
        let answer = state.next_answer();
        state.heard.push(Received {
            at: std::time::Instant::now(),
            headers,
            body,
            answer,
        });
        (answer, state.delay)
    };
    match answer {
        Answer::Hang => {
            // Hold the connection until the other side goes away.
            let mut chunk = [0u8; 1024];
            while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
        }
        Answer::Status(status) => {
            tokio::time::sleep(delay).await;
            let answer = format!(
                "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if stream.write_all(answer.as_bytes()).await.is_ok() {
                stream.shutdown().await.ok();
            }
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8(buffer[..header_end].to_vec()).ok()?;
    let headers: Vec<(String, String)> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((headers, body))
}

/// The signature Python computes for `secret`, `timestamp` and the raw
/// body, which it reads from a file so that no byte is changed on the way.
pub fn python_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("lamba-webhook-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, body).unwrap();
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import hashlib, hmac, sys\n\
             secret, timestamp, path = sys.argv[1], sys.argv[2], sys.argv[3]\n\
             body = open(path, 'rb').read()\n\
             mac = hmac.new(secret.encode(), timestamp.encode() + b'.' + body, hashlib.sha256)\n\
             print('v1=' + mac.hexdigest())",
        )
        .arg(secret)
        .arg(timestamp)
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
