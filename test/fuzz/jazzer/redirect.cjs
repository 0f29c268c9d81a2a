// Preloaded (node --require) into the Jazzer CLI: resolves the @jazzer.js/fuzzer prebuilt addon to
// the version-patched copy named by OUTPOST_JAZZER_ADDON (see addon.mjs). Nothing else changes.
const Module = require('node:module');
const patched = process.env.OUTPOST_JAZZER_ADDON;
if (patched) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (typeof request === 'string' && /[\\/]prebuilds[\\/]fuzzer-[^\\/]+\.node$/.test(request)) return patched;
    return resolve.call(this, request, ...rest);
  };
}
