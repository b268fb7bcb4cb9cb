//! The gateway as a node's status shows it: each API token (id, system,
//! scopes, revoked or not; never a secret or its hash) and each webhook
//! subscription with its deliveries' counts. Read from the token file and
//! the webhooks' state whether or not the listener is on: a center can
//! issue tokens and subscribe systems before it opens the gateway.

use liandong_control::proto::{GatewayStatus, TokenView};

use super::tokens::TokenWatch;
use super::webhooks::Webhooks;

pub fn gateway_status(tokens: &TokenWatch, webhooks: &Webhooks) -> GatewayStatus {
    let tokens = tokens
        .current()
        .tokens
        .iter()
        .map(|t| TokenView {
            id: t.id.clone(),
            name: t.name.clone(),
            scopes: t.scopes.iter().map(|s| s.name().to_owned()).collect(),
            revoked: t.revoked.is_some(),
        })
        .collect();
    GatewayStatus {
        tokens,
        webhooks: webhooks.views(),
    }
}
