// The release signing key Outpost trusts: `outpost update` installs only bundles whose
// manifest.sig verifies with this Ed25519 public key (raw 32 bytes, base64).
//
// - A production key is committed here as PRODUCTION_RELEASE_KEY by the release manager (the
//   private half never enters the repository: docs/release.md).
// - build.mjs bakes the key it signs with into the bundle it builds (esbuild `define` of
//   __OUTPOST_RELEASE_KEY__ as "production:BASE64" or "development:BASE64"). Developer builds sign
//   with a development key generated under .keys/ (gitignored), so a box running a developer
//   build accepts only that developer's bundles, and a production box never accepts them.
// - Run from source (tsx) without either, there is no key and updates are refused.

declare const __OUTPOST_RELEASE_KEY__: string | undefined;

/** The project's release key; null until the release manager creates one (docs/release.md). */
export const PRODUCTION_RELEASE_KEY: string | null = null;

export interface ReleaseKey {
  kind: 'production' | 'development';
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
}

/** The key this firmware verifies bundles with, or null when it has none. */
export function bakedReleaseKey(): ReleaseKey | null {
  const injected = typeof __OUTPOST_RELEASE_KEY__ === 'string' ? __OUTPOST_RELEASE_KEY__ : undefined;
  if (injected) {
    const m = /^(production|development):([A-Za-z0-9+/]{43}=)$/.exec(injected);
    if (m) return { kind: m[1] as ReleaseKey['kind'], publicKey: m[2]! };
  }
  return PRODUCTION_RELEASE_KEY ? { kind: 'production', publicKey: PRODUCTION_RELEASE_KEY } : null;
}
