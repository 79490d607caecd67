//! librdkafka clients from the settings: the brokers and every pass-through property first,
//! then the defaults a role needs (unless the operator set them), and which errors are worth
//! retrying.

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::settings::KafkaSettings;

/// Which per-role properties apply.
#[derive(Debug, Clone, Copy)]
pub enum ClientRole {
    Consumer,
    Producer,
    /// Creating topics: the common properties only.
    Admin,
}

/// Builds a client configuration from the settings: the brokers, every pass-through
/// property (SASL, TLS, …), then the per-role ones.
pub fn client_config(settings: &KafkaSettings, role: &ClientRole) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.brokers);
    let extra = match role {
        ClientRole::Consumer => Some(&settings.consumer),
        ClientRole::Producer => Some(&settings.producer),
        ClientRole::Admin => None,
    };
    for (k, v) in settings
        .properties
        .iter()
        .chain(extra.into_iter().flatten())
    {
        config.set(k, v);
    }
    config
}

/// Sets a property unless the operator already set it.
pub trait SetDefault {
    fn set_default(&mut self, key: &str, value: &str) -> &mut Self;
}

impl SetDefault for ClientConfig {
    fn set_default(&mut self, key: &str, value: &str) -> &mut Self {
        if self.get(key).is_none() {
            self.set(key, value);
        }
        self
    }
}

/// Delivery errors no retry can fix: the record itself is unacceptable (too large,
/// invalid). Its input belongs in the dead-letter topic; any other error is transient.
pub fn is_permanent(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::BadMessage
        )
    )
}

/// Consumer errors that no waiting fixes: the stage stops.
pub(crate) fn is_fatal(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::Fatal
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
        )
    )
}
