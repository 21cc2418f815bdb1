//! Public ids: a short type prefix and a ULID (`dlg_01J…`), so ids sort by creation time, are
//! unguessable enough to be no hint, and say what they point at in logs and support tickets.

/// A new id with the given prefix, e.g. `new_id("ptr")`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A secret token of `bytes` random bytes, URL-safe base64 (API keys, manage-page tokens).
pub fn secret_token(bytes: usize) -> String {
    use base64::Engine;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// SHA-256 hex of a high-entropy secret: enough to store API keys (no salt needed, the key
/// itself is random), and lookups stay a single indexed equality.
pub fn hash_secret(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_sorted() {
        let a = new_id("dlg");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("dlg");
        assert!(a.starts_with("dlg_") && a.len() == 30);
        assert!(a < b);
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        assert_ne!(secret_token(32), secret_token(32));
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_ne!(hash_secret("x"), hash_secret("y"));
    }
}
