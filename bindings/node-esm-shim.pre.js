// Pasted inside the module factory (--pre-js). Lets the one ES module load in Node >= 20.16 as well as in
// browsers and bundlers: `require`/`__dirname` for emscripten's Node branch come from
// process.getBuiltinModule (synchronous, no top-level await, no static import a bundler would follow),
// and the .wasm is read from disk instead of fetch()ed from a file:// URL. TOOLCHAIN.md section 2.
// No `import.meta` here (emcc's acorn pass chokes on it): the ES6 wrapper's _scriptDir holds the URL.
/** @suppress {duplicate} */
var require = (typeof process == 'object' && process['versions'] && process['versions']['node'] &&
               typeof process['getBuiltinModule'] == 'function')
  ? function (id) { return process['getBuiltinModule'](id); } : undefined;
/** @suppress {duplicate} */
var __dirname = require ? require('path')['dirname'](require('url')['fileURLToPath'](_scriptDir)) : '';
if (require && !Module['wasmBinary'] && !Module['instantiateWasm']) {
  Module['instantiateWasm'] = function (imports, receiveInstance) {
    var f = wasmBinaryFile;
    var bytes = f.startsWith('data:') ? Buffer.from(f.slice(f.indexOf(',') + 1), 'base64')
              : require('fs')['readFileSync'](f.startsWith('file:') ? new URL(f) : f);
    WebAssembly.instantiate(bytes, imports).then(function (r) { receiveInstance(r['instance'], r['module']); },
                                                 readyPromiseReject);
    return {};
  };
}
