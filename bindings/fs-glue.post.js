// File-system glue for the JS layer (--post-js). What JS outside calls is quoted (Module['x']) so a
// Closure build keeps the name; emscripten's own FS objects are reached with dot access, so Closure
// renames both sides alike (quoting them, e.g. node['mount'] or stat['mtime'], breaks a Closure build).
// mountIdb: IDBFS (browser; the IndexedDB database is named after the mount path).
// mountNode: NODEFS onto a host directory (Node; writes go straight to disk).
// syncMount: one IDBFS mount's FS.syncfs, without walking every other store's mount.

function syncoreMount(type, path, opts) {
  FS.mkdirTree(path);
  FS.mount(type, opts || {}, path);
}

Module['mountIdb'] = function (path) { syncoreMount(IDBFS, path); };

Module['mountNode'] = function (path, hostDir) { syncoreMount(NODEFS, path, { 'root': hostDir }); };

Module['unmount'] = function (path) { FS.unmount(path); };

// NODEFS has no fsync of its own: emscripten's fd_sync calls stream_ops.fsync when there is one, and
// otherwise does nothing. A store opened with {fsync: true} (the relay's) then gets its journal records
// and its state file onto the disk, not only into the OS's cache. 29 is WASI's EIO.
if (typeof NODEFS !== 'undefined' && NODEFS.stream_ops && !NODEFS.stream_ops.fsync) {
  NODEFS.stream_ops.fsync = function (stream) {
    if (stream.nfd === undefined || stream.nfd === null || !require) return 0;
    try {
      require('fs')['fsyncSync'](stream.nfd);
      return 0;
    } catch (e) {
      return 29;
    }
  };
}

/** populate=true: IndexedDB -> memory (on open); false: memory -> IndexedDB. Resolves when done. */
Module['syncMount'] = function (path, populate) {
  return new Promise(function (resolve, reject) {
    var mount = FS.lookupPath(path).node.mount;
    mount.type.syncfs(mount, !!populate, function (err) {
      if (err) reject(err instanceof Error ? err : new Error('IndexedDB sync failed: ' + err));
      else resolve();
    });
  });
};

/** Files under a path, with sizes (tests and diagnostics). */
Module['listFiles'] = function (path) {
  var out = [];
  FS.readdir(path).forEach(function (name) {
    if (name === '.' || name === '..') return;
    var st = FS.stat(path + '/' + name);
    out.push({ 'name': name, 'size': st.size, 'dir': FS.isDir(st.mode) });
  });
  return out;
};

/** Moves the mtime of files changed since `sinceMs` strictly forward. IDBFS decides what to copy by
 *  comparing mtimes (millisecond resolution): a write landing in the same millisecond as the copy it
 *  follows would otherwise never be copied. */
Module['bumpMtimes'] = function (path, sinceMs) {
  FS.readdir(path).forEach(function (name) {
    if (name === '.' || name === '..') return;
    var p = path + '/' + name;
    var st = FS.stat(p);
    if (FS.isDir(st.mode)) { Module['bumpMtimes'](p, sinceMs); return; }
    var t = st.mtime.getTime();
    if (t >= sinceMs) {
      var next = Math.max(Date.now(), t + 1);
      FS.utime(p, next, next);
    }
  });
};

/** A small side file of the store's directory (the sync client keeps the relay's last vector there), or
 *  null if it does not exist. */
Module['readText'] = function (path) {
  try {
    return FS.readFile(path, { encoding: 'utf8' });
  } catch (e) {
    return null;
  }
};

Module['writeText'] = function (path, text) { FS.writeFile(path, text); };
