// The AEAD contract shared by ESP (RFC 4106, RFC 7634) and the IKE SK payload (RFC 5282, RFC 7634).
// Both use a key made of the cipher key followed by a 4-byte salt, and an 8-byte explicit IV;
// the nonce is salt || IV (12 bytes), the ICV is 16 bytes.

export interface AeadAlgorithm {
  /** strongSwan-style name, e.g. "aes256gcm16", "chacha20poly1305". */
  readonly name: string;
  /** Cipher key length in bytes, without the salt. */
  readonly keyBytes: number;
  readonly saltBytes: 4;
  readonly ivBytes: 8;
  readonly icvBytes: 16;
  /** Prepares a key once per SA. `keyAndSalt` is keyBytes + 4 bytes, as IKE's KEYMAT gives it. */
  createKey(keyAndSalt: Uint8Array): AeadKey;
}

export interface AeadKey {
  readonly alg: AeadAlgorithm;
  /** Returns ciphertext || ICV. */
  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer;
  /** Returns the plaintext, or null when the ICV does not verify. */
  open(iv: Uint8Array, aad: Uint8Array, ciphertextAndIcv: Uint8Array): Buffer | null;
}
