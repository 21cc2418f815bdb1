//! Public ids: a short type prefix and a ULID (`dlg_01J…`), so ids sort by creation time, are
//! unguessable enough to be no hint, and say what they point at in logs and support tickets.

/// A ULID that sorts after every earlier one from this process, also within the same
/// millisecond (plain `Ulid::new()` is random there), so "newest first" by id and keyset
/// pagination agree with creation order.
pub fn monotonic_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; fall back to a random one rather than fail.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// A new id with the given prefix, e.g. `new_id("ptr")`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", monotonic_ulid().to_string().to_lowercase())
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
    fn ids_of_one_millisecond_keep_their_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("x")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        assert_ne!(secret_token(32), secret_token(32));
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_ne!(hash_secret("x"), hash_secret("y"));
    }
}
