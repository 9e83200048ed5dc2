// See wal_write_buffer.hpp. The VFS is SQLite's own default one with a thin file layer on
// top; only files opened with SQLITE_OPEN_WAL get a buffer.

#include "storage/sqlite/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace chatrix::storage::sqlite_detail {

namespace {

constexpr const char* vfs_name = "chatrix-wal-buffer";
/// A group commit of a few thousand pages fits; a larger one is written in several pieces.
constexpr int buffer_capacity = 8 * 1024 * 1024;

/// The platform's VFS, which this one wraps (the default when this one was registered).
sqlite3_vfs* platform = nullptr;

sqlite3_vfs* base_vfs() { return platform; }

/// Our file object; the platform's file lives right behind it in the same allocation.
struct buffered_file {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  char* data;           // the pending bytes, from `offset` on
  int size;             // bytes pending
  sqlite3_int64 offset;
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<buffered_file*>(f)->real; }

/// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the size to 17 bits).
constexpr int max_write = 31 * 4096;

/// Writes the pending bytes, if any, at their offset.
int flush(buffered_file* f) {
  int rc = SQLITE_OK;
  for (int done = 0; done < f->size && rc == SQLITE_OK; done += max_write) {
    rc = f->real->pMethods->xWrite(f->real, f->data + done, std::min(max_write, f->size - done), f->offset + done);
  }
  f->size = 0;
  return rc;
}

int flush(sqlite3_file* f) { return flush(reinterpret_cast<buffered_file*>(f)); }

int x_close(sqlite3_file* file) {
  auto* f = reinterpret_cast<buffered_file*>(file);
  const int flushed = flush(f);
  std::free(f->data);
  f->data = nullptr;
  const int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xRead(real_of(file), out, amount, offset);
}

int x_write(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
  auto* f = reinterpret_cast<buffered_file*>(file);
  if (!f->is_wal) return f->real->pMethods->xWrite(f->real, in, amount, offset);
  // Only a write that continues the pending bytes joins them; anything else (SQLite
  // rewriting a frame of the current transaction, a WAL restarting at its beginning) first
  // puts what is pending in place, so the file sees the writes in their order.
  if (f->size > 0 && (offset != f->offset + f->size || f->size + amount > buffer_capacity)) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (amount > max_write) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xWrite(f->real, in, amount, offset);
  }
  if (f->data == nullptr) {
    f->data = static_cast<char*>(std::malloc(buffer_capacity));
    if (f->data == nullptr) return f->real->pMethods->xWrite(f->real, in, amount, offset);
  }
  if (f->size == 0) f->offset = offset;
  std::memcpy(f->data + f->size, in, static_cast<std::size_t>(amount));
  f->size += amount;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xTruncate(real_of(file), size);
}

int x_sync(sqlite3_file* file, int flags) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xSync(real_of(file), flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xFileSize(real_of(file), size);
}

int x_lock(sqlite3_file* file, int level) { return real_of(file)->pMethods->xLock(real_of(file), level); }
int x_unlock(sqlite3_file* file, int level) { return real_of(file)->pMethods->xUnlock(real_of(file), level); }
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_of(file)->pMethods->xCheckReservedLock(real_of(file), out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  // Some controls act on the file's contents (SQLITE_FCNTL_SYNC, SIZE_HINT...).
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}

int x_sector_size(sqlite3_file* file) { return real_of(file)->pMethods->xSectorSize(real_of(file)); }
int x_device_characteristics(sqlite3_file* file) {
  return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}

int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_of(file)->pMethods->xShmMap(real_of(file), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_of(file)->pMethods->xShmBarrier(real_of(file)); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return real_of(file)->pMethods->xFetch(real_of(file), offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return real_of(file)->pMethods->xUnfetch(real_of(file), offset, p);
}

// Version 3, like the unix VFS's own files: shared memory (WAL index) and memory mapping.
const sqlite3_io_methods buffered_methods = {
    3,           x_close,       x_read,         x_write,   x_truncate, x_sync,
    x_file_size, x_lock,        x_unlock,       x_check_reserved_lock, x_file_control,
    x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier,
    x_shm_unmap, x_fetch,       x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<buffered_file*>(file);
  f->base.pMethods = nullptr;  // until the real file is open: SQLite then skips xClose
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(buffered_file));
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->data = nullptr;
  f->size = 0;
  f->offset = 0;
  sqlite3_vfs* real_vfs = base_vfs();
  const int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (f->real->pMethods == nullptr || f->real->pMethods->iVersion < 3) {
    // Not the kind of file this layer forwards to (the unix VFS's are version 3).
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  f->base.pMethods = &buffered_methods;
  return SQLITE_OK;
}

// The rest of the VFS is the platform's.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return base_vfs()->xDelete(base_vfs(), name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return base_vfs()->xAccess(base_vfs(), name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return base_vfs()->xFullPathname(base_vfs(), name, size, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return base_vfs()->xDlOpen(base_vfs(), name); }
void x_dl_error(sqlite3_vfs*, int size, char* out) { base_vfs()->xDlError(base_vfs(), size, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return base_vfs()->xDlSym(base_vfs(), handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { base_vfs()->xDlClose(base_vfs(), handle); }
int x_randomness(sqlite3_vfs*, int size, char* out) { return base_vfs()->xRandomness(base_vfs(), size, out); }
int x_sleep(sqlite3_vfs*, int micros) { return base_vfs()->xSleep(base_vfs(), micros); }
int x_current_time(sqlite3_vfs*, double* out) { return base_vfs()->xCurrentTime(base_vfs(), out); }
int x_get_last_error(sqlite3_vfs*, int size, char* out) {
  return base_vfs()->xGetLastError ? base_vfs()->xGetLastError(base_vfs(), size, out) : 0;
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return base_vfs()->xCurrentTimeInt64(base_vfs(), out);
}

}  // namespace

const char* wal_write_buffer_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    platform = sqlite3_vfs_find(nullptr);
    static sqlite3_vfs vfs{};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(sizeof(buffered_file)) + platform->szOsFile;
    vfs.mxPathname = platform->mxPathname;
    vfs.zName = vfs_name;
    vfs.xOpen = x_open;
    vfs.xDelete = x_delete;
    vfs.xAccess = x_access;
    vfs.xFullPathname = x_full_pathname;
    vfs.xDlOpen = x_dl_open;
    vfs.xDlError = x_dl_error;
    vfs.xDlSym = x_dl_sym;
    vfs.xDlClose = x_dl_close;
    vfs.xRandomness = x_randomness;
    vfs.xSleep = x_sleep;
    vfs.xCurrentTime = x_current_time;
    vfs.xGetLastError = x_get_last_error;
    vfs.xCurrentTimeInt64 = x_current_time_int64;
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs_name;
}

}  // namespace chatrix::storage::sqlite_detail
