//! Who is looking: the account or wall display behind a request, as the dashboard sees it.

use crate::summary::Window;
use serde::{Deserialize, Serialize};

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every unit; manages users, displays and ingest keys; reads the audit log.
    Admin,
    /// Every unit.
    Leader,
    /// Its own unit and the units below it.
    Chief,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Chief => "chief",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "leader" => Some(Role::Leader),
            "chief" => Some(Role::Chief),
            _ => None,
        }
    }
}

/// One view of a wall's playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallView {
    pub unit: String,
    /// The window of the figures; for a `score` view, the period (month, quarter or year).
    pub window: Window,
    /// How long the view stays on screen.
    pub seconds: u32,
    /// `summary` (the figures, the default) or `score` (the Decision 766 score in wall-size type).
    #[serde(default, skip_serializing_if = "crate::live::View::is_summary")]
    pub view: crate::live::View,
}

/// `GET /api/v1/session`: the caller, or `None` without a valid session or display credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub me: Option<Me>,
    /// Whether the login page offers "Đăng nhập bằng tài khoản công vụ" (the province's
    /// OpenID provider, `GET /auth/oidc/login`).
    #[serde(default)]
    pub oidc: bool,
}

/// `GET /api/v1/me`: the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Me {
    User {
        username: String,
        role: Role,
        /// The unit whose subtree the caller sees; `None` means every unit.
        unit: Option<String>,
    },
    Display {
        id: i64,
        name: String,
        unit: String,
        playlist: Vec<WallView>,
    },
}

/// `POST /api/v1/login` body.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    /// Never prints the password, whatever logs a request.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `POST /api/v1/displays/pair` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairRequest {
    pub code: String,
}
