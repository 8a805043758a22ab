//! `POST /websub`: the WebSub hub's subscription endpoint (WebSub §5.1).
//! A form with `hub.mode`, `hub.topic`, `hub.callback` and optionally
//! `hub.lease_seconds` and `hub.secret`; checked here, answered `202
//! Accepted`, then verified with the callback and applied by
//! [`crate::websub`].
//!
//! Refused before anything is stored or sent: a callback outside `[websub]
//! allow` (`403 callback_not_allowed`, never contacted), a topic that is
//! not one of the gateway's feed URLs, a secret of 200 bytes or more, a
//! mode other than subscribe / unsubscribe (`400 invalid_parameter`); with
//! credentials configured, subscribing takes `read` on the topic's feed
//! (the deliveries carry its content). The hub is off, and the path not
//! found, without `[websub] allow`.

use super::body::form_body;
use super::{credentials, empty, no_store, Res};
use crate::app::App;
use crate::auth::Role;
use crate::error::ApiError;
use crate::websub::{self, Mode};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::sync::Arc;

/// Largest subscription request body.
const MAX_FORM: usize = 16 * 1024;
/// WebSub §5.1: `hub.secret` MUST be less than 200 bytes.
const MAX_SECRET: usize = 199;

pub async fn request(app: &Arc<App>, req: Request<Incoming>) -> Result<Res, ApiError> {
    let hub = app.hub();
    if !hub.enabled() {
        return Err(ApiError::NotFound);
    }
    let (header, token) = credentials(&req);
    let (header, token) = (header.map(str::to_string), token.map(|t| t.into_owned()));
    let form = form_body(app, req, MAX_FORM).await?;
    // Who asks is known before anything else is said about the request.
    let who = match app.auth().enabled() {
        true => app
            .auth()
            .authenticate(header.as_deref(), token.as_deref())?,
        false => None,
    };
    let field = |name: &str| {
        form_urlencoded::parse(&form)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let required = |name: &str| {
        field(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::InvalidParameter(format!("{name} is required")))
    };
    let mode = match required("hub.mode")?.as_str() {
        "subscribe" => Mode::Subscribe,
        "unsubscribe" => Mode::Unsubscribe,
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "hub.mode {other:?}: use subscribe or unsubscribe"
            )))
        }
    };
    let topic = required("hub.topic")?;
    let Some((feed, format)) = websub::parse_topic(&topic, app.config().base_url.as_deref()) else {
        return Err(ApiError::InvalidParameter(format!(
            "hub.topic {topic:?} is not a feed of this gateway (…/feeds/NAME, .rss or .atom)"
        )));
    };
    if app.feed(&feed).is_none() {
        return Err(ApiError::FeedNotFound(feed));
    }
    if app.auth().enabled() {
        app.auth().authorize(who, Some(&feed), Role::Read)?;
    }
    let callback = required("hub.callback")?;
    if callback.contains(char::is_whitespace) || !hub.config().allows(&callback) {
        return Err(ApiError::CallbackNotAllowed(callback));
    }
    let secret = field("hub.secret").filter(|s| !s.is_empty());
    if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET) {
        return Err(ApiError::InvalidParameter(
            "hub.secret must be shorter than 200 bytes".into(),
        ));
    }
    let lease_seconds = match field("hub.lease_seconds").filter(|s| !s.is_empty()) {
        Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
            ApiError::InvalidParameter(format!("hub.lease_seconds {s:?}: use a whole number"))
        })?),
        None => None,
    };
    if mode == Mode::Subscribe {
        let held = app.store().hub_records().await?.len();
        if held >= hub.config().max_subscriptions {
            return Err(ApiError::HubUnavailable(format!(
                "the hub holds max_subscriptions ({held}) already"
            )));
        }
    }
    hub.accept(
        app,
        websub::Request {
            mode,
            feed,
            format,
            topic,
            callback,
            secret,
            lease_seconds,
        },
    );
    Ok(no_store(empty(StatusCode::ACCEPTED)))
}
