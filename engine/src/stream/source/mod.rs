//! Where events come from. Today: Kafka consumer groups ([`kafka`]), whose
//! messages are taken in batches from a queue of the source's own
//! ([`fetch`]), with optional copies of rejected messages to a dead-letter
//! topic ([`dead_letter`]).
//!
//! A source consumes messages, decodes them into per-model Arrow batches
//! (see [`crate::stream::decode`]) and hands micro-batches, with the offsets they
//! consumed, to the window stage over a bounded channel. It stores, for
//! librdkafka to commit, only the positions the window stage sends back once the
//! state holding their events is durable: after a checkpoint (see
//! [`crate::stream::checkpoint`]), or without one after exporting closed windows.
//!
//! The source is the engine's only Kafka consumer and owns all of its FFI
//! ([`fetch`]). It may use [`crate::stream::decode`], [`crate::stream::window`]
//! (the micro-batch it hands on), the catalogue of models, events and the
//! metric catalogue, and the Kafka settings of [`crate::config`]. It must not
//! reach past the window stage: what happens to a window is not its business.

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaConfRes;

use crate::config::{SECRET_MASK, is_secret_property};

pub mod dead_letter;
pub mod fetch;
pub mod kafka;

/// A topic and partition: the unit positions are tracked, stored and committed in.
pub type PartitionKey = (std::sync::Arc<str>, i32);

/// Creates a Kafka client (consumer or producer) from `client`, with every
/// value of a secret-named property taken out of the error.
///
/// NOTE: librdkafka's configuration errors echo the value they refused (a
/// `sasl.oauthbearer.client.secret` this build does not support, say), and
/// its creation errors may quote values too; the error would reach the log
/// and the terminal. Every client the engine creates goes through here.
///
/// # Errors
/// The Kafka client's error (a configuration problem), redacted.
pub fn create_client<C, T>(client: &ClientConfig, context: C) -> KafkaResult<T>
where
    C: ClientContext,
    T: FromClientConfigAndContext<C>,
{
    client.create_with_context(context).map_err(|error| redact(error, client))
}

/// `error` with the value of every secret-named property of `client` masked.
/// A property librdkafka does not know keeps its value hidden too: it may be a
/// misspelt secret (`sasl.pasword`).
fn redact(error: KafkaError, client: &ClientConfig) -> KafkaError {
    let secrets: Vec<&str> = client
        .config_map()
        .into_iter()
        .filter(|(key, value)| is_secret_property(key) && !value.is_empty())
        .map(|(_, value)| value)
        .collect();
    let clean =
        |text: String| secrets.iter().fold(text, |text, secret| text.replace(secret, SECRET_MASK));
    match error {
        KafkaError::ClientConfig(code, description, key, value) => {
            let hidden = is_secret_property(&key) || code == RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN;
            let value = if hidden { SECRET_MASK.to_owned() } else { clean(value) };
            KafkaError::ClientConfig(code, clean(description), key, value)
        }
        KafkaError::ClientCreation(text) => KafkaError::ClientCreation(clean(text)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::consumer::{BaseConsumer, DefaultConsumerContext};

    use super::*;

    const SECRET: &str = "hunter2-do-not-print";

    fn refused(key: &str) -> String {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", "127.0.0.1:9").set(key, SECRET);
        let error = create_client::<_, BaseConsumer>(&client, DefaultConsumerContext)
            .err()
            .unwrap_or_else(|| panic!("{key} was accepted"));
        format!("{error} {error:?}")
    }

    #[test]
    fn refused_secret_values_are_not_echoed() {
        // Not supported in this build (no OIDC), an unknown (misspelt) key,
        // and a secret-named key librdkafka does not know.
        for key in ["sasl.oauthbearer.client.secret", "sasl.pasword", "ssl.keystore.passwords"] {
            let text = refused(key);
            assert!(!text.contains(SECRET), "{key}: {text}");
            assert!(text.contains(key), "{key}: {text}");
        }
    }

    #[test]
    fn the_dead_letter_producer_hides_secrets_too() {
        let mut kafka = crate::config::Config::defaults().kafka;
        kafka.properties.insert("sasl.oauthbearer.client.secret".into(), SECRET.into());
        let metrics = std::sync::Arc::new(crate::observe::metrics::Metrics::new());
        let error = dead_letter::DeadLetter::new(&kafka, "events", "rejects", metrics)
            .expect_err("refused");
        let text = format!("{error} {error:?}");
        assert!(!text.contains(SECRET), "{text}");
    }
}
