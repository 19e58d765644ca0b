//! Password hashing with argon2id.
