package io.powdb.backup.crypto;

/** One data key wrapped by one master key: base64 nonce and AES-256-GCM ciphertext (key and tag). */
public record Wrapping(String masterKeyId, String nonce, String wrappedKey) {
}
