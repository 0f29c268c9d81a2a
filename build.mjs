#!/usr/bin/env node
// Bundles the daemon (firmware/main.ts) into dist/outpost.mjs with esbuild. Native addons stay
// external and are copied beside the bundle, where board/tun/index.ts looks for them first.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';

const outdir = 'dist';
mkdirSync(outdir, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
  external: ['*.node', 'serialport', '@serialport/*'],
  // ESM output still meets CommonJS dependencies that call require(); give them one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};

await build({ ...common, entryPoints: ['firmware/main.ts'], outfile: `${outdir}/outpost.mjs` });
chmodSync(`${outdir}/outpost.mjs`, 0o755);
// The technician's tool (runs on the laptop; needs serialport from node_modules there).
await build({ ...common, entryPoints: ['provisioning/provision-tool.ts'], outfile: `${outdir}/outpost-provision.mjs`, banner: { js: `#!/usr/bin/env node\n${common.banner.js}` } });
chmodSync(`${outdir}/outpost-provision.mjs`, 0o755);

for (const [name, without] of [['outpost_tun', 'will not open TUN devices'], ['outpost_esp', 'will use the slower JavaScript ESP path']]) {
  const addon = `board/tun/build/Release/${name}.node`;
  if (existsSync(addon)) copyFileSync(addon, `${outdir}/${name}.node`);
  else console.warn(`build: ${addon} is missing (run npm run build:native); the bundle ${without}`);
}
console.log(`build: ${outdir}/outpost.mjs ${outdir}/outpost-provision.mjs`);
