//! Password hashing with Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes), in PHC
//! string form so the parameters travel with each hash.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use rand::RngCore;

use super::NewPassword;

/// The PHC string for a new password, with a fresh 16-byte salt.
pub fn hash(password: &NewPassword) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes always encode as a salt");
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("Argon2 with default parameters accepts any password of at most 128 characters")
        .to_string()
}

/// Whether `password` matches a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a password nobody has, verified when an account does not exist, so a failed
/// sign-in takes as long whether or not the email is known.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&NewPassword::parse("no account has this password").expect("long enough")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let p = NewPassword::parse("correct horse battery staple").unwrap();
        let (a, b) = (hash(&p), hash(&p));
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("anything", "not a hash"));
    }
}
