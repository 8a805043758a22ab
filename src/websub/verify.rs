//! Verification of intent (WebSub §5.3): before a subscription is stored
//! or removed, the hub asks the callback, with `GET` and a fresh
//! `hub.challenge`, and goes on only if the answer is a 2xx whose body is
//! the challenge. Redirects are not followed (they could lead outside
//! `[websub] allow`).

use super::Request;
use std::time::Duration;

/// Longest verification answer read: a challenge is short.
const MAX_ANSWER: usize = 4096;

/// Ask `req`'s callback to confirm it; `Err` says why it did not.
pub async fn intent(
    client: &reqwest::Client,
    req: &Request,
    lease: Duration,
) -> Result<(), String> {
    let challenge = challenge();
    let mut url = reqwest::Url::parse(&req.callback).map_err(|e| format!("bad callback: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("hub.mode", req.mode.as_str())
            .append_pair("hub.topic", &req.topic)
            .append_pair("hub.challenge", &challenge);
        if req.mode == super::Mode::Subscribe {
            q.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
        }
    }
    let res = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("callback unreachable: {e}"))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("callback answered {status}"));
    }
    let body = res
        .bytes()
        .await
        .map_err(|e| format!("callback's answer cut short: {e}"))?;
    let body = &body[..body.len().min(MAX_ANSWER)];
    if body.trim_ascii() != challenge.as_bytes() {
        return Err("callback did not echo hub.challenge".into());
    }
    Ok(())
}

/// 32 random hex digits.
fn challenge() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        return crate::store::new_epoch() + &crate::store::new_epoch();
    }
    hex::encode(b)
}
