//! End-to-end tests: one binary, one module per area. They need PostgreSQL (DATABASE_URL),
//! Redis (REDIS_URL), the built dashboard and chromedriver: `scripts/test.sh` provides them.
#![allow(clippy::unwrap_used)]

mod access;
mod browser;
mod cli;
mod figures;
mod ingest;
mod live;
mod overdue;
