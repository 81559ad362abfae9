//! The supervision console: the district at a glance, in a browser, served by this server
//! under `/console` (docs/adr/0017-supervision-console.md).
//!
//! Pages are rendered here as HTML with every value escaped ([`html`]), in Simplified
//! Chinese by default with an English switch ([`i18n`]); its one stylesheet is embedded in
//! the binary and no page runs a script. Only supervisors and admins sign in, with a
//! one-time code from `admin console-code` ([`sign_in`]); a session is a cookie whose hash
//! the database keeps, and every form carries the session's CSRF token ([`session`]).
//! Figures come from core's rule queries over a replica of the district that the console
//! keeps in the data folder and brings up to date before each page ([`replica`]).

pub mod attention;
pub mod background;
pub mod chart;
pub mod code_words;
pub mod columns;
pub mod error_page;
pub mod export;
pub mod fleet;
pub mod html;
pub mod i18n;
pub mod manager;
pub mod manager_figures;
pub mod overview;
pub mod overview_page;
pub mod photos;
pub mod replica;
pub mod session;
pub mod sign_in;
pub mod store_page;
pub mod violations;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;
use crate::throttle::Buckets;

/// How long a console session lasts from sign-in.
pub const SESSION_MS: i64 = 12 * 3_600_000;
/// How long a console sign-in code stays valid.
pub const CODE_VALID_FOR_MS: i64 = 24 * 3_600_000;
/// Refused sign-ins (an unknown, used or expired code) written to the audit trail a minute
/// from all addresses together (a burst of as many); past it they are not recorded.
pub const REFUSALS_RECORDED_PER_MINUTE: u32 = 60;
/// A device silent this long is highlighted on the fleet page.
pub const STALE_DEVICE_MS: i64 = 3 * 24 * 3_600_000;

/// What the console needs beyond the server's state.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The data folder: the console's replica (`console-replica.db`) and the calendar.
    pub data_dir: PathBuf,
    /// Mark the session cookie `Secure` (the server is reached through a TLS proxy). A
    /// request forwarded with `X-Forwarded-Proto: https` gets it too.
    pub secure_cookies: bool,
    /// R9's minimum of visits per month to each store R1 covers.
    pub min_visits: u32,
    /// Sign-in attempts allowed per minute from one address (a burst of as many).
    pub sign_ins_per_minute: u32,
    /// The replica pages are computed on (shared, so the server can warm it at start).
    pub replica: Arc<replica::Replica>,
    /// R2's past readings for the violations chart, kept between overviews (shared, so the
    /// server can fill them at start: [`overview::warm`]).
    pub price_tags: Arc<std::sync::Mutex<fieldsync_core::PriceTagsOverTime>>,
}

impl ConsoleConfig {
    /// The defaults for a data folder.
    pub fn new(data_dir: PathBuf) -> ConsoleConfig {
        ConsoleConfig {
            replica: Arc::new(replica::Replica::new(&data_dir)),
            data_dir,
            secure_cookies: false,
            min_visits: fieldsync_core::DEFAULT_MIN_MONTHLY_VISITS,
            sign_ins_per_minute: 10,
            price_tags: Arc::default(),
        }
    }
}

/// What the console's handlers share.
#[derive(Debug)]
pub struct Console {
    pub config: ConsoleConfig,
    pub replica: Arc<replica::Replica>,
    /// Sign-in attempts by source address (none when the request has no peer address).
    pub sign_ins: Buckets<Option<IpAddr>>,
    /// Audit rows for attempts the throttle refused: one a minute, so that a flood of them
    /// writes nothing more (the throttle counts in memory).
    pub flood_notes: Buckets<()>,
    /// Audit rows for unknown, used or expired codes, from every address together: at most
    /// [`REFUSALS_RECORDED_PER_MINUTE`] a minute. Not a limit on sign-ins: one attacker
    /// with many addresses must not lock the district's supervisors out.
    pub refusal_notes: Buckets<()>,
    /// The last overview, shown again while the log has not moved (for a short while).
    pub overviews: overview::OverviewCache,
    /// Each account manager's part of the last overviews, while nothing new counts for them.
    pub manager_figures: manager_figures::ManagerCache,
}

/// The console's routes, to be merged into the server's router.
pub fn router(config: ConsoleConfig) -> Router<AppState> {
    let console = Arc::new(Console {
        replica: config.replica.clone(),
        sign_ins: Buckets::per_minute(config.sign_ins_per_minute, config.sign_ins_per_minute),
        flood_notes: Buckets::per_minute(1, 1),
        refusal_notes: Buckets::per_minute(
            REFUSALS_RECORDED_PER_MINUTE,
            REFUSALS_RECORDED_PER_MINUTE,
        ),
        overviews: overview::OverviewCache::default(),
        manager_figures: manager_figures::ManagerCache::default(),
        config,
    });
    Router::new()
        .route("/console", get(overview_page::page_handler))
        .route("/console/", get(overview_page::page_handler))
        .route("/console/assets/console.css", get(html::stylesheet))
        .route(
            "/console/sign-in",
            get(sign_in::form).post(sign_in::sign_in),
        )
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/lang/{lang}", get(sign_in::switch_language))
        .route("/console/manager/{id}", get(manager::handler))
        .route("/console/store/{id}", get(store_page::handler))
        .route("/console/store/{id}/photo/{hash}", get(photos::handler))
        .route("/console/fleet", get(fleet::handler))
        .route("/console/assessment.csv", get(export::csv))
        .route("/console/assessment", get(export::printable))
        .route(
            "/console/{*rest}",
            axum::routing::any(error_page::no_such_page),
        )
        .layer(axum::middleware::from_fn(error_page::errors_as_pages))
        .layer(axum::middleware::from_fn(html::security_headers))
        .layer(axum::Extension(console))
}
