export const TARGETS: string[];
export function bundle(target: string, outDir: string): Promise<string>;
