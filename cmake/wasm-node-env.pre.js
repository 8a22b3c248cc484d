// --pre-js for syncore's wasm test/bench programs run under node (see CMakeLists.txt).
// Emscripten 3.1.6 gives getenv() a fixed fake environment (USER=web_user, PWD=/ ...); copy the real
// process environment in so e.g. SYNCORE_SEED reaches the program. ENV only exists when the program uses
// getenv/environ, hence the typeof guard.
Module['preRun'] = [].concat(Module['preRun'] || [], [function () {
  if (typeof ENV == 'object' && typeof process == 'object' && process['env']) {
    for (var k in process['env']) ENV[k] = process['env'][k];
  }
}]);
