// A SQLite VFS that gathers the writes to a WAL file into a few large system calls per commit.
//
// SQLite writes a commit to the WAL as two pwrite calls per page (frame header, then page),
// sequentially, and then syncs. Under load a group commit writes hundreds of pages, so the
// writer thread spent more time entering the kernel than in SQLite. This VFS wraps the
// platform one: writes to a WAL file that continue the previous one are appended to a buffer,
// which goes to the file in pieces of up to 124 KiB before anything that depends on it (a sync, a read, a
// size query, a truncation, a non-contiguous write, a file control, closing). Since SQLite
// syncs the WAL before it makes a commit visible, durability and what readers see are
// unchanged; only the number of system calls is. Every other file passes straight through.
//
// That relies on the writer committing with synchronous=FULL (sqlite_store's writer always
// does): with NORMAL there is no sync at commit, and other connections, which read the WAL
// through their own descriptors, could be told of frames still sitting in this buffer.
#pragma once

namespace chatrix::storage::sqlite_detail {

/// Registers the VFS (once per process; not as the default) and returns its name, for
/// sqlite3_open_v2.
const char* wal_write_buffer_vfs();

}  // namespace chatrix::storage::sqlite_detail
