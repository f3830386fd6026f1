// Contract: the module tsserver loads for tsconfig.json's plugin "dsl/plugin/index.cjs" (found through
// node_modules/dsl, package.json's `file:` link to dsl/). CommonJS, since tsserver require()s plugins; it
// loads plugin.ts through tsx's scoped require (no loader hook is installed in the editor's server) and
// exports the plugin's factory.
const { require: tsxRequire } = require('tsx/cjs/api');
/** @type {typeof import('./plugin.ts')} */
const plugin = tsxRequire('./plugin.ts', __filename);
module.exports = plugin.createPlugin;
