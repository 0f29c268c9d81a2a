export function shippedAddon(): string | undefined;
export function patchAddon(input: Buffer): { bytes: Buffer; versions: number; symbols: number };
export function prepareAddon(): { ok: true; env: Record<string, string>; note: string } | { ok: false; reason: string };
