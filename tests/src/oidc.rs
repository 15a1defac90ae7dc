//! A real OpenID provider for the sign-in tests (npm's `oidc-provider`, which setup installs,
//! running `tests/oidc/provider.mjs`), and a browser's walk through it over plain HTTP.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The client this server is at the provider.
pub const CLIENT_ID: &str = "ioc-test";
pub const CLIENT_SECRET: &str = "ioc-test-client-secret-0123456789";

/// An `oidc-provider` process on a free port, its accounts in a JSON file.
pub struct OidcProvider {
    pub issuer: String,
    accounts: PathBuf,
    child: Child,
}

impl OidcProvider {
    /// Starts it for a server whose callback is `redirect_url`; `accounts` is
    /// `{"login": {claims…}}`.
    pub fn start(redirect_url: &str, accounts: &Value) -> OidcProvider {
        let dir = std::env::var("IOC_OIDC_PROVIDER_DIR").expect(
            "IOC_OIDC_PROVIDER_DIR names the installed oidc-provider (scripts/test.sh sets it up)",
        );
        let file = std::env::temp_dir().join(format!(
            "ioc-oidc-accounts-{}-{:x}.json",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&file, accounts.to_string()).unwrap();
        let mut post_logout = reqwest::Url::parse(redirect_url).unwrap();
        post_logout.set_path("/");
        let mut child = Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .arg(&file)
            .args([CLIENT_ID, CLIENT_SECRET, redirect_url, post_logout.as_str()])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(file.with_extension("log")).unwrap())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Whatever it prints later is read (a closed pipe would stop it at its next line).
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_owned();
        OidcProvider { issuer, accounts: file, child }
    }

    /// Replaces the accounts and their claims (read again at the next sign-in).
    pub fn set_accounts(&self, accounts: &Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }

    /// Makes the provider's next token response carry an ID token altered `how`
    /// (`expired`, `foreign_audience`, `foreign_issuer`, `wrong_nonce`, `alg_none`, `hmac`,
    /// `unknown_key`; `rotated_key`: a new key the JWKS publishes from then on).
    pub async fn tamper(&self, how: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/_test/tamper", self.issuer))
            .body(how.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
    }

    /// The server's OIDC settings for this provider.
    pub fn settings(&self, redirect_url: &str) -> ioc_server::settings::OidcSettings {
        ioc_server::settings::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_url: redirect_url.into(),
            scopes: ioc_server::settings::DEFAULT_OIDC_SCOPES.into(),
            username_claim: ioc_server::settings::DEFAULT_OIDC_USERNAME_CLAIM.into(),
            role_claim: ioc_server::settings::DEFAULT_OIDC_ROLE_CLAIM.into(),
            unit_claim: ioc_server::settings::DEFAULT_OIDC_UNIT_CLAIM.into(),
            role_map: String::new(),
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.accounts);
        let _ = std::fs::remove_file(self.accounts.with_extension("log"));
    }
}

/// A browser without JavaScript: follows nothing by itself, keeps the provider's cookies.
pub struct Walker {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// The page the sign-in starts from (sent as `Referer` to `/auth/oidc/login`).
    pub referer: Option<String>,
}

impl Default for Walker {
    fn default() -> Walker {
        Walker {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            referer: None,
        }
    }
}

impl Walker {
    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap_or("");
            if let Some((name, rest)) = text.split(';').next().unwrap_or("").split_once('=') {
                if rest.is_empty() || text.to_ascii_lowercase().contains("expires=thu, 01 jan 1970")
                {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies.insert(name.trim().to_owned(), rest.to_owned());
                }
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// GETs `url` with the kept cookies.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let response =
            self.http.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body: String =
            form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        let response = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// From `GET /auth/oidc/login?next=…` (no `next` when it is empty) on `base` to the
    /// provider and back: logs in at the provider as `login` and returns the callback URL the
    /// provider sends the browser to (not yet followed).
    pub async fn authorize(&mut self, base: &str, next: &str, login: &str) -> String {
        let url = match next {
            "" => format!("{base}/auth/oidc/login"),
            next => format!("{base}/auth/oidc/login?next={}", urlencode(next)),
        };
        let mut request = self.http.get(&url);
        if let Some(referer) = &self.referer {
            request = request.header("referer", referer);
        }
        let start = request.send().await.unwrap();
        assert_eq!(start.status().as_u16(), 302, "{}", start.text().await.unwrap());
        let mut url = location(&start, base);
        for _ in 0..10 {
            if url.starts_with(base) {
                return url;
            }
            let response = self.get(&url).await;
            if response.status().is_redirection() {
                url = location(&response, &url);
                continue;
            }
            let page = response.text().await.unwrap();
            assert!(page.contains("name=\"login\""), "expected the provider's login form: {page}");
            let action = between(&page, "action=\"", "\"");
            let action = absolute(&url, &action);
            let after = self
                .post_form(&action, &[("prompt", "login"), ("login", login), ("password", "any")])
                .await;
            assert!(after.status().is_redirection(), "the login form answered {}", after.status());
            url = location(&after, &action);
        }
        panic!("no way back to {base} from the provider");
    }
}

fn location(response: &reqwest::Response, from: &str) -> String {
    let to = response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("{} without Location", response.status()))
        .to_str()
        .unwrap();
    absolute(from, to)
}

fn absolute(from: &str, to: &str) -> String {
    reqwest::Url::parse(from).unwrap().join(to).unwrap().to_string()
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].replace("&amp;", "&")
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
