//! Real receivers of notifications for the tests: an SMTP server (Python's aiosmtpd, which
//! setup installs, writing a Maildir) and an HTTP server recording every webhook POST.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An aiosmtpd process on a free port, writing every message it accepts to a Maildir.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: std::process::Child,
}

impl SmtpServer {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> SmtpServer {
        let python = std::env::var("IOC_SMTP_SERVER_PYTHON").expect(
            "IOC_SMTP_SERVER_PYTHON names the Python with aiosmtpd (scripts/test.sh sets it up)",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = std::env::temp_dir().join(format!("ioc-smtp-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        std::fs::create_dir_all(&maildir).unwrap();
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.join("box"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = SmtpServer { port, maildir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first, read by Python's `email` package (as a
    /// mail client would: encoded words and transfer encodings decoded).
    pub fn messages(&self) -> Vec<Mail> {
        const READ: &str = r#"
import base64, email, email.policy, json, mailbox, os, sys
root = sys.argv[1]
box = mailbox.Maildir(root, factory=None, create=True)
mails = []
for key in box.keys():
    path = os.path.join(root, box._lookup(key))
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    attachments = [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                    "base64": base64.b64encode(part.get_payload(decode=True)).decode()}
                   for part in message.iter_attachments()]
    mails.append({"at": os.path.getmtime(path), "to": str(message["To"]),
                  "from": str(message["From"]), "subject": str(message["Subject"]),
                  "message_id": str(message["Message-ID"]),
                  "text": body.get_content() if body is not None else "",
                  "attachments": attachments})
mails.sort(key=lambda m: m["at"])
print(json.dumps(mails))
"#;
        let python = std::env::var("IOC_SMTP_SERVER_PYTHON").unwrap();
        let output = std::process::Command::new(python)
            .args(["-c", READ])
            .arg(self.maildir.join("box"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// A message as a mail client shows it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub attachments: Vec<MailAttachment>,
}

/// A file a message carries, decoded.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub base64: String,
}

impl MailAttachment {
    pub fn bytes(&self) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.base64).unwrap()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// One POST a [`WebhookReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// An HTTP server recording every POST; it answers 500 to the first `failures` of them (a
/// receiver that is down), 200 after.
pub struct WebhookReceiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start(failures: usize) -> WebhookReceiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let record = received.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let record = record.clone();
                let failed = failed.clone();
                async move {
                    use std::sync::atomic::Ordering;
                    if failed.fetch_add(1, Ordering::SeqCst) < failures {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    record.lock().unwrap().push(Received { headers, body: body.to_vec() });
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { url, received, task }
    }

    /// The POSTs answered 200 so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
