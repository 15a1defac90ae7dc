//! End-to-end tests: one binary, one module per area. They need PostgreSQL (DATABASE_URL),
//! Redis (REDIS_URL), the built dashboard and chromedriver: `scripts/test.sh` provides them.
#![allow(clippy::unwrap_used)]

mod access;
mod alerts;
mod browser;
mod calendar;
mod cli;
mod directory;
mod explanations;
mod failover;
mod figures;
mod hardening;
mod ingest;
mod live;
mod notify;
mod open311;
mod operations;
mod overdue;
mod public;
mod reliability;
mod reports;
mod server;
mod signin;
mod trends;
mod work;
