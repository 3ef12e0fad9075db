//! `knocker-wal`: the platform's SQLite VFS with one change — the frames one commit appends to
//! the WAL reach the operating system as one `write` instead of two per page.
//!
//! Why: SQLite writes every WAL frame with two system calls (the 24-byte frame header, then the
//! page). A receipt dirties about a dozen pages (two rows and their indexes), so a commit made
//! ~26 `pwrite` calls, measured at about 40 % of a sequential ingest on the reference machine.
//! Here the writes of a commit are collected in memory and issued as one `pwrite` as soon as the
//! commit frame is complete. The file format, the locks and the shared-memory index are the
//! platform VFS's own, so other processes and other SQLite libraries read and write the file
//! exactly as before.
//!
//! Why it is safe — which bytes may stay in the buffer, and until when:
//! - SQLite publishes a commit (updates the WAL index that readers consult) only after
//!   `walFrames` has written every frame of it, and the last of those writes completes the commit
//!   frame (the frame whose header carries the database size). That write flushes the buffer,
//!   so no reader, in this process or another, can be told about a frame that is not in the
//!   file yet.
//! - Only whole frames appended past the last commit are buffered: a frame header, then the page
//!   that follows it contiguously. Anything else — the header rewrites of `walRewriteChecksums`
//!   (which land before the last commit frame's end), in-place page overwrites, pieces of a frame
//!   split around a sync point — first flushes the buffer and then goes straight to the file.
//! - Buffered frames that are not followed by a commit (a transaction spilling pages to the WAL)
//!   are beyond the published end of the log, invisible to every other connection; this
//!   connection's own reads, syncs, truncations and size queries flush first, while it still
//!   holds the WAL write lock.
//! - Buffered frames never outlive the WAL write lock: once it is released another connection
//!   may commit frames at the same offsets, and writing the old frames later would overwrite
//!   that commit. So the database file's `xShmLock` drops this connection's buffer whenever it
//!   releases the write lock (after a commit the buffer is already empty; after a rollback it
//!   holds only the rolled-back transaction's frames), whatever path got there: a rollback, a
//!   failed statement, closing. The connection's rollback hook ([`discard_uncommitted`]) does the
//!   same for the locking mode that uses no shared memory, and closing the WAL drops what is left.
//! - A process killed with the buffer full loses frames of a commit that had not completed, the
//!   same outcome as being killed before SQLite wrote them.
//!
//! The main database file is wrapped only to see its `xShmLock` calls (every other method is
//! the platform's, passed through); other files are opened by the platform VFS unchanged.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// Name under which the VFS is registered (never as the default VFS).
pub(crate) const VFS_NAME: &str = "knocker-wal";
const VFS_NAME_C: &CStr = c"knocker-wal";

const WAL_HEADER_BYTES: usize = 32;
const FRAME_HEADER_BYTES: usize = 24;
/// Largest single write: the unix VFS writes at most 128 KiB - 1 bytes per call (and reports
/// a short write as "disk full"), so a large commit (a group commit, a prune) is written in
/// pieces of this size.
const MAX_WRITE_BYTES: usize = 64 * 1024;

/// Registers the VFS once per process; returns its name for `open_with_flags_and_vfs`.
pub(crate) fn ensure_registered() -> Result<&'static str, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED.get_or_init(register).clone().map(|()| VFS_NAME)
}

fn register() -> Result<(), String> {
    // SAFETY: sqlite3_vfs_find/register are thread-safe; the registered struct is leaked and
    // lives for the rest of the process, as SQLite requires.
    unsafe {
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let r = &*real;
        let vfs = Box::new(ffi::sqlite3_vfs {
            iVersion: 2,
            szOsFile: (REAL_FILE_OFFSET as c_int) + r.szOsFile,
            mxPathname: r.mxPathname,
            pNext: std::ptr::null_mut(),
            zName: VFS_NAME_C.as_ptr(),
            pAppData: real as *mut c_void,
            xOpen: Some(x_open),
            xDelete: Some(x_delete),
            xAccess: Some(x_access),
            xFullPathname: Some(x_full_pathname),
            xDlOpen: Some(x_dl_open),
            xDlError: Some(x_dl_error),
            xDlSym: Some(x_dl_sym),
            xDlClose: Some(x_dl_close),
            xRandomness: Some(x_randomness),
            xSleep: Some(x_sleep),
            xCurrentTime: Some(x_current_time),
            xGetLastError: Some(x_get_last_error),
            xCurrentTimeInt64: Some(x_current_time_int64),
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        });
        let rc = ffi::sqlite3_vfs_register(Box::into_raw(vfs), 0);
        if rc != ffi::SQLITE_OK {
            return Err(format!("registering the {VFS_NAME} VFS failed (SQLite code {rc})"));
        }
    }
    Ok(())
}

unsafe fn real_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    (*vfs).pAppData as *mut ffi::sqlite3_vfs
}

// ---------------------------------------------------------------------------------------------
// The WAL file wrapper
// ---------------------------------------------------------------------------------------------

/// What SQLite allocates for a WAL file opened through this VFS: our header, then the platform
/// VFS's own file object at `REAL_FILE_OFFSET`.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    batch: *mut Batch,
    /// The database file this WAL belongs to (null when it is not wrapped or already closed).
    main: *mut MainFile,
}

/// What SQLite allocates for a main database file opened through this VFS: the same layout,
/// plus the link to the connection's WAL file so that releasing the WAL write lock (an
/// `xShmLock` on this file) can drop the WAL's buffered frames.
#[repr(C)]
struct MainFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// The WAL file of the same connection while it is open, else null.
    wal: *mut WalFile,
}

const REAL_FILE_OFFSET: usize = {
    let (w, m) = (std::mem::size_of::<WalFile>(), std::mem::size_of::<MainFile>());
    ((if w > m { w } else { m }) + 15) & !15
};

/// `xShmLock` slot of the WAL write lock (`WAL_WRITE_LOCK` in SQLite's wal.c).
const WAL_WRITE_LOCK_SLOT: c_int = 0;

extern "C" {
    /// SQLite 3.32+ (Knocker needs 3.38, `storage::MIN_SQLITE_VERSION`). Declared here because
    /// libsqlite3-sys's pre-generated bindings for a system SQLite predate it.
    fn sqlite3_database_file_object(name: *const c_char) -> *mut ffi::sqlite3_file;
}

#[derive(Default)]
struct Batch {
    /// Bytes not yet written, to be written at `buf_offset`.
    buf: Vec<u8>,
    buf_offset: i64,
    /// From the WAL header (bytes 8..12); learned when written or read on first need.
    page_size: Option<i64>,
    /// End of the last commit frame written through this handle: writes before it are
    /// rewrites of frames already published or about to be, and are never buffered.
    committed_end: i64,
    /// End of the commit frame whose header was just written; reaching it flushes.
    commit_frame_end: Option<i64>,
    /// Writes SQLite asked for, and `write` calls issued (what the tests check).
    requested: u64,
    issued: u64,
}

impl Batch {
    fn buf_end(&self) -> i64 {
        self.buf_offset + self.buf.len() as i64
    }

    /// Drops frames that belong to no commit (the write lock is gone, or the transaction rolled
    /// back): they must never reach the file.
    fn discard(&mut self) {
        self.buf.clear();
        self.commit_frame_end = None;
    }
}

unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'a mut Batch) {
    let w = file as *mut WalFile;
    ((*w).real, &mut *(*w).batch)
}

unsafe fn real_write(real: *mut ffi::sqlite3_file, b: &mut Batch, data: *const c_void, len: c_int, offset: i64) -> c_int {
    b.issued += 1;
    ((*(*real).pMethods).xWrite.expect("xWrite"))(real, data, len, offset)
}

unsafe fn flush(real: *mut ffi::sqlite3_file, b: &mut Batch) -> c_int {
    if b.buf.is_empty() {
        return ffi::SQLITE_OK;
    }
    let mut rc = ffi::SQLITE_OK;
    let mut done = 0;
    while done < b.buf.len() && rc == ffi::SQLITE_OK {
        let n = (b.buf.len() - done).min(MAX_WRITE_BYTES);
        let (ptr, offset) = (b.buf[done..].as_ptr() as *const c_void, b.buf_offset + done as i64);
        rc = real_write(real, b, ptr, n as c_int, offset);
        done += n;
    }
    // On failure the commit in progress fails; SQLite never publishes frames it could not
    // write, so the buffered bytes are dropped either way.
    b.buf.clear();
    rc
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The WAL's page size, reading the header from the file if this handle has not written it.
unsafe fn page_size(real: *mut ffi::sqlite3_file, b: &mut Batch) -> Option<i64> {
    if b.page_size.is_none() && flush(real, b) == ffi::SQLITE_OK {
        let mut hdr = [0u8; WAL_HEADER_BYTES];
        let rc = ((*(*real).pMethods).xRead.expect("xRead"))(real, hdr.as_mut_ptr() as *mut c_void, hdr.len() as c_int, 0);
        if rc == ffi::SQLITE_OK {
            let size = be_u32(&hdr[8..12]) as i64;
            if (512..=65536).contains(&size) && size.count_ones() == 1 {
                b.page_size = Some(size);
            }
        }
    }
    b.page_size
}

unsafe extern "C" fn wal_write(file: *mut ffi::sqlite3_file, data: *const c_void, len: c_int, offset: i64) -> c_int {
    let (real, b) = parts(file);
    b.requested += 1;
    if data.is_null() || len <= 0 {
        return ((*(*real).pMethods).xWrite.expect("xWrite"))(real, data, len, offset);
    }
    let bytes = std::slice::from_raw_parts(data as *const u8, len as usize);
    let end = offset + len as i64;
    if offset == 0 && bytes.len() == WAL_HEADER_BYTES {
        // A new log generation starts: frames go from the top again.
        let size = be_u32(&bytes[8..12]) as i64;
        b.page_size = ((512..=65536).contains(&size) && size.count_ones() == 1).then_some(size);
        b.committed_end = 0;
        b.commit_frame_end = None;
    }
    let is_frame_header = bytes.len() == FRAME_HEADER_BYTES;
    if is_frame_header && be_u32(&bytes[4..8]) != 0 {
        // A commit frame's header (or a checksum rewrite of one, whose page is not rewritten:
        // then nothing ends at this mark and it is replaced by the next commit's).
        b.commit_frame_end = page_size(real, b).map(|p| offset + FRAME_HEADER_BYTES as i64 + p);
    }
    let appending = offset >= b.committed_end;
    let contiguous = !b.buf.is_empty() && offset == b.buf_end();
    // A WAL header (a new log generation) or a frame header may start the buffer; only frames
    // that continue it contiguously are appended to it. Anything else writes the buffer out
    // first, so bytes always reach the file at their own offsets and in SQLite's order.
    let bufferable = appending
        && ((offset == 0 && bytes.len() == WAL_HEADER_BYTES && b.buf.is_empty())
            || (is_frame_header && (b.buf.is_empty() || contiguous) && b.page_size.is_some())
            || (contiguous && Some(len as i64) == b.page_size));
    let mut rc = ffi::SQLITE_OK;
    if bufferable {
        if b.buf.is_empty() {
            b.buf_offset = offset;
        }
        b.buf.extend_from_slice(bytes);
    } else {
        rc = flush(real, b);
        if rc == ffi::SQLITE_OK {
            rc = real_write(real, b, data, len, offset);
        }
    }
    if rc == ffi::SQLITE_OK && b.commit_frame_end == Some(end) {
        b.commit_frame_end = None;
        b.committed_end = end;
        rc = flush(real, b);
    } else if rc == ffi::SQLITE_OK && b.buf.len() >= MAX_WRITE_BYTES {
        rc = flush(real, b);
    }
    rc
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    let w = file as *mut WalFile;
    let real = (*w).real;
    if !(*w).main.is_null() {
        (*(*w).main).wal = std::ptr::null_mut();
        (*w).main = std::ptr::null_mut();
    }
    // Whatever is still buffered belongs to no commit (a commit writes its frames out as its
    // last frame completes): dropped, never written.
    let rc = ((*(*real).pMethods).xClose.expect("xClose"))(real);
    drop(Box::from_raw((*w).batch));
    (*w).batch = std::ptr::null_mut();
    rc
}

/// Drops the frames this connection has buffered for its WAL without writing them. Called by
/// the rollback hook of every Knocker connection (`storage::open_connection`): after a rollback
/// only frames of the rolled-back transaction can be in the buffer, and the rollback has
/// released the WAL write lock, so another connection may already be writing its own frames at
/// those offsets.
///
/// # Safety
/// `db` must be an open connection, used by no other thread during the call.
pub(crate) unsafe fn discard_uncommitted(db: *mut ffi::sqlite3) {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // JOURNAL_POINTER stores the connection's WAL file object (or its rollback journal, or a
    // closed file) in `file`; it is a WalFile exactly when its methods are ours.
    let rc = ffi::sqlite3_file_control(db, c"main".as_ptr(), ffi::SQLITE_FCNTL_JOURNAL_POINTER, &mut file as *mut _ as *mut c_void);
    if rc == ffi::SQLITE_OK && !file.is_null() && std::ptr::eq((*file).pMethods, &WAL_METHODS) {
        (*(*(file as *mut WalFile)).batch).discard();
    }
}

unsafe extern "C" fn wal_read(file: *mut ffi::sqlite3_file, data: *mut c_void, len: c_int, offset: i64) -> c_int {
    let (real, b) = parts(file);
    let rc = flush(real, b);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    ((*(*real).pMethods).xRead.expect("xRead"))(real, data, len, offset)
}

unsafe extern "C" fn wal_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let (real, b) = parts(file);
    let rc = flush(real, b);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    b.committed_end = b.committed_end.min(size);
    b.commit_frame_end = None;
    ((*(*real).pMethods).xTruncate.expect("xTruncate"))(real, size)
}

unsafe extern "C" fn wal_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let (real, b) = parts(file);
    let rc = flush(real, b);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    ((*(*real).pMethods).xSync.expect("xSync"))(real, flags)
}

unsafe extern "C" fn wal_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    let (real, b) = parts(file);
    let rc = flush(real, b);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    ((*(*real).pMethods).xFileSize.expect("xFileSize"))(real, size)
}

unsafe extern "C" fn wal_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, _) = parts(file);
    ((*(*real).pMethods).xLock.expect("xLock"))(real, level)
}

unsafe extern "C" fn wal_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, _) = parts(file);
    ((*(*real).pMethods).xUnlock.expect("xUnlock"))(real, level)
}

unsafe extern "C" fn wal_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (real, _) = parts(file);
    ((*(*real).pMethods).xCheckReservedLock.expect("xCheckReservedLock"))(real, out)
}

unsafe extern "C" fn wal_file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    let (real, b) = parts(file);
    let rc = flush(real, b);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    ((*(*real).pMethods).xFileControl.expect("xFileControl"))(real, op, arg)
}

unsafe extern "C" fn wal_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, _) = parts(file);
    ((*(*real).pMethods).xSectorSize.expect("xSectorSize"))(real)
}

unsafe extern "C" fn wal_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, _) = parts(file);
    ((*(*real).pMethods).xDeviceCharacteristics.expect("xDeviceCharacteristics"))(real)
}

/// Version 1: the WAL file never uses the shared-memory or memory-map methods (those belong
/// to the main database file, which is not wrapped).
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(wal_sector_size),
    xDeviceCharacteristics: Some(wal_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

// ---------------------------------------------------------------------------------------------
// The main database file wrapper: the platform's methods, and a look at each xShmLock
// ---------------------------------------------------------------------------------------------

unsafe fn main_real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    (*(file as *mut MainFile)).real
}

unsafe extern "C" fn main_close(file: *mut ffi::sqlite3_file) -> c_int {
    let m = file as *mut MainFile;
    if !(*m).wal.is_null() {
        (*(*m).wal).main = std::ptr::null_mut();
        (*m).wal = std::ptr::null_mut();
    }
    let real = (*m).real;
    ((*(*real).pMethods).xClose.expect("xClose"))(real)
}

unsafe extern "C" fn main_shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let m = file as *mut MainFile;
    let real = (*m).real;
    let rc = ((*(*real).pMethods).xShmLock.expect("xShmLock"))(real, offset, n, flags);
    let releases_write_lock = flags == (ffi::SQLITE_SHM_UNLOCK | ffi::SQLITE_SHM_EXCLUSIVE)
        && offset <= WAL_WRITE_LOCK_SLOT
        && offset + n > WAL_WRITE_LOCK_SLOT;
    if releases_write_lock && !(*m).wal.is_null() {
        (*(*(*m).wal).batch).discard();
    }
    rc
}

/// Generates pass-through methods: `name(file, args..) -> ret` calls the platform file's `field`.
macro_rules! main_passthrough {
    ($($name:ident => $field:ident ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            let real = main_real(file);
            ((*(*real).pMethods).$field.expect(stringify!($field)))(real $(, $arg)*)
        }
    )*};
}

main_passthrough! {
    main_read => xRead(data: *mut c_void, len: c_int, offset: i64) -> c_int;
    main_write => xWrite(data: *const c_void, len: c_int, offset: i64) -> c_int;
    main_truncate => xTruncate(size: i64) -> c_int;
    main_sync => xSync(flags: c_int) -> c_int;
    main_file_size => xFileSize(size: *mut i64) -> c_int;
    main_lock => xLock(level: c_int) -> c_int;
    main_unlock => xUnlock(level: c_int) -> c_int;
    main_check_reserved_lock => xCheckReservedLock(out: *mut c_int) -> c_int;
    main_file_control => xFileControl(op: c_int, arg: *mut c_void) -> c_int;
    main_sector_size => xSectorSize() -> c_int;
    main_device_characteristics => xDeviceCharacteristics() -> c_int;
    main_shm_map => xShmMap(region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int;
    main_shm_barrier => xShmBarrier() -> ();
    main_shm_unmap => xShmUnmap(delete: c_int) -> c_int;
    main_fetch => xFetch(offset: i64, len: c_int, out: *mut *mut c_void) -> c_int;
    main_unfetch => xUnfetch(offset: i64, page: *mut c_void) -> c_int;
}

/// Version 3, as the platform's (x_open wraps a main file only when its methods are version 3
/// and complete).
static MAIN_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(main_close),
    xRead: Some(main_read),
    xWrite: Some(main_write),
    xTruncate: Some(main_truncate),
    xSync: Some(main_sync),
    xFileSize: Some(main_file_size),
    xLock: Some(main_lock),
    xUnlock: Some(main_unlock),
    xCheckReservedLock: Some(main_check_reserved_lock),
    xFileControl: Some(main_file_control),
    xSectorSize: Some(main_sector_size),
    xDeviceCharacteristics: Some(main_device_characteristics),
    xShmMap: Some(main_shm_map),
    xShmLock: Some(main_shm_lock),
    xShmBarrier: Some(main_shm_barrier),
    xShmUnmap: Some(main_shm_unmap),
    xFetch: Some(main_fetch),
    xUnfetch: Some(main_unfetch),
};

/// Whether a platform file object's methods can stand behind [`MAIN_METHODS`].
unsafe fn wrappable_main(methods: *const ffi::sqlite3_io_methods) -> bool {
    let m = &*methods;
    m.iVersion >= 3
        && m.xShmMap.is_some()
        && m.xShmLock.is_some()
        && m.xShmBarrier.is_some()
        && m.xShmUnmap.is_some()
        && m.xFetch.is_some()
        && m.xUnfetch.is_some()
}

// ---------------------------------------------------------------------------------------------
// VFS methods: open wraps WAL and main database files; everything else is the platform VFS's.
// ---------------------------------------------------------------------------------------------

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = real_vfs(vfs);
    let open = (*real_vfs).xOpen.expect("xOpen");
    let (is_wal, is_main) = (flags & ffi::SQLITE_OPEN_WAL != 0, flags & ffi::SQLITE_OPEN_MAIN_DB != 0);
    if !is_wal && !is_main {
        // Neither: the platform's file object sits at the start of SQLite's allocation (it
        // is larger than the platform needs by REAL_FILE_OFFSET bytes, unused).
        return open(real_vfs, name, file, flags, out_flags);
    }
    (*file).pMethods = std::ptr::null();
    let real = (file as *mut u8).add(REAL_FILE_OFFSET) as *mut ffi::sqlite3_file;
    (*real).pMethods = std::ptr::null();
    let rc = open(real_vfs, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        if !(*real).pMethods.is_null() {
            ((*(*real).pMethods).xClose.expect("xClose"))(real);
        }
        return rc;
    }
    if is_main {
        if !wrappable_main((*real).pMethods) {
            // A platform VFS without version-3 methods (not unix, not win): opened again
            // unwrapped, at the start of the allocation like other files. The rollback hook
            // still drops rolled-back frames.
            ((*(*real).pMethods).xClose.expect("xClose"))(real);
            return open(real_vfs, name, file, flags, out_flags);
        }
        let m = file as *mut MainFile;
        (*m).real = real;
        (*m).wal = std::ptr::null_mut();
        (*m).base.pMethods = &MAIN_METHODS;
        return ffi::SQLITE_OK;
    }
    let w = file as *mut WalFile;
    (*w).real = real;
    (*w).batch = Box::into_raw(Box::default());
    (*w).main = std::ptr::null_mut();
    // The connection's database file (SQLite finds it from the WAL name it passed): linked, so
    // that its xShmLock can drop this WAL's buffer when the write lock is released.
    let main = if name.is_null() { std::ptr::null_mut() } else { sqlite3_database_file_object(name) };
    if !main.is_null() && std::ptr::eq((*main).pMethods, &MAIN_METHODS) {
        let m = main as *mut MainFile;
        if !(*m).wal.is_null() {
            (*(*m).wal).main = std::ptr::null_mut();
        }
        (*m).wal = w;
        (*w).main = m;
    }
    (*w).base.pMethods = &WAL_METHODS;
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xDelete.expect("xDelete"))(r, name, sync_dir)
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xAccess.expect("xAccess"))(r, name, flags, out)
}

unsafe extern "C" fn x_full_pathname(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, n: c_int, out: *mut c_char) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xFullPathname.expect("xFullPathname"))(r, name, n, out)
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let r = real_vfs(vfs);
    match (*r).xDlOpen {
        Some(f) => f(r, name),
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let r = real_vfs(vfs);
    if let Some(f) = (*r).xDlError {
        f(r, n, out)
    }
}

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    let r = real_vfs(vfs);
    match (*r).xDlSym {
        Some(f) => f(r, handle, symbol),
        None => None,
    }
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let r = real_vfs(vfs);
    if let Some(f) = (*r).xDlClose {
        f(r, handle)
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xRandomness.expect("xRandomness"))(r, n, out)
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xSleep.expect("xSleep"))(r, micros)
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let r = real_vfs(vfs);
    ((*r).xCurrentTime.expect("xCurrentTime"))(r, out)
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let r = real_vfs(vfs);
    match (*r).xGetLastError {
        Some(f) => f(r, n, out),
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut ffi::sqlite3_int64) -> c_int {
    let r = real_vfs(vfs);
    match (*r).xCurrentTimeInt64 {
        Some(f) => f(r, out),
        None => {
            let mut days = 0f64;
            let rc = ((*r).xCurrentTime.expect("xCurrentTime"))(r, &mut days);
            *out = (days * 86_400_000.0) as ffi::sqlite3_int64;
            rc
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{open_connection, ConnSettings};
    use rusqlite::Connection;

    const SETTINGS: ConnSettings = ConnSettings { busy_timeout_ms: 5000, synchronous_full: false };

    /// (writes SQLite requested, write calls issued) on this connection's WAL so far.
    fn counts(conn: &Connection) -> (u64, u64) {
        let b = batch(conn);
        (b.requested, b.issued)
    }

    /// This connection's WAL write buffer.
    fn batch(conn: &Connection) -> &Batch {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: JOURNAL_POINTER stores the WAL's file object (owned by the connection) in
        // `file`; it is a WalFile exactly when its methods are ours.
        unsafe {
            let rc = ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_JOURNAL_POINTER,
                &mut file as *mut _ as *mut c_void,
            );
            assert_eq!(rc, ffi::SQLITE_OK);
            assert!(!file.is_null() && std::ptr::eq((*file).pMethods, &WAL_METHODS), "WAL not opened through knocker-wal");
            &*(*(file as *mut WalFile)).batch
        }
    }

    fn setup(dir: &tempfile::TempDir) -> (String, Connection) {
        let path = dir.path().join("t.sqlite").to_string_lossy().into_owned();
        let conn = open_connection(&path, SETTINGS, None).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, body BLOB NOT NULL);
             CREATE UNIQUE INDEX t_k ON t(k);
             CREATE INDEX t_len ON t(length(body), id);
             CREATE TABLE total (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
             INSERT INTO total VALUES (1, 0);",
        )
        .unwrap();
        (path, conn)
    }

    fn insert(conn: &Connection, from: i64, n: i64, size: usize) {
        let tx = conn.unchecked_transaction().unwrap();
        for i in from..from + n {
            tx.execute("INSERT INTO t (k, body) VALUES (?1, ?2)", rusqlite::params![format!("key-{i:08}"), vec![(i % 251) as u8; size]])
                .unwrap();
        }
        tx.execute("UPDATE total SET n = n + ?1", [n]).unwrap();
        tx.commit().unwrap();
    }

    /// What a crash right now would leave: copies the file and its WAL (not the shared-memory
    /// index) and opens the copy with SQLite's own VFS, which recovers from the WAL alone and
    /// checks every frame's checksum. Returns the committed row count.
    fn crash_image_rows(path: &str) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.sqlite");
        std::fs::copy(path, &copy).unwrap();
        let wal = format!("{path}-wal");
        if std::path::Path::new(&wal).exists() {
            std::fs::copy(&wal, format!("{}-wal", copy.display())).unwrap();
        }
        let c = Connection::open(&copy).unwrap();
        let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let (rows, total): (i64, i64) =
            c.query_row("SELECT (SELECT count(*) FROM t), (SELECT n FROM total)", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(rows, total, "a commit is in the WAL only in part");
        rows
    }

    #[test]
    fn a_commit_reaches_the_wal_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = setup(&dir);
        insert(&conn, 0, 1, 1024);
        for i in 1..20 {
            let (req0, iss0) = counts(&conn);
            insert(&conn, i, 1, 1024);
            let (req1, iss1) = counts(&conn);
            // Table leaf + overflow, two index leaves, the total row: at least 4 frames, 8 writes.
            assert!(req1 - req0 >= 8, "requested {}", req1 - req0);
            assert_eq!(iss1 - iss0, 1, "commit {i} issued {} writes", iss1 - iss0);
            assert_eq!(crash_image_rows(&path), i + 1);
        }
    }

    #[test]
    fn readers_on_other_connections_see_only_whole_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = setup(&dir);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (path, stop) = (path.clone(), stop.clone());
                std::thread::spawn(move || {
                    // One reader through SQLite's own VFS, one through ours.
                    let c = if r == 0 { Connection::open(&path).unwrap() } else { open_connection(&path, SETTINGS, None).unwrap() };
                    let mut reads = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (rows, total, bytes): (i64, i64, i64) = c
                            .query_row("SELECT (SELECT count(*) FROM t), (SELECT n FROM total), (SELECT coalesce(sum(length(body)), 0) FROM t)", [], |r| {
                                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                            })
                            .unwrap();
                        assert_eq!(rows, total);
                        assert_eq!(bytes, rows * 700);
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for i in 0..400 {
            insert(&conn, i * 3, 3, 700);
            if i % 100 == 99 {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).unwrap();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
        assert_eq!(crash_image_rows(&path), 1200);
    }

    #[test]
    fn spilled_rewritten_and_rolled_back_transactions_stay_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = setup(&dir);
        // A tiny page cache makes SQLite spill dirty pages into the WAL mid-transaction, then
        // overwrite those frames in place and rewrite their checksums at commit.
        conn.execute_batch("PRAGMA cache_size = 8; PRAGMA cache_spill = 4;").unwrap();
        insert(&conn, 0, 10, 100);
        {
            let tx = conn.unchecked_transaction().unwrap();
            for i in 10..400 {
                tx.execute("INSERT INTO t (k, body) VALUES (?1, ?2)", rusqlite::params![format!("key-{i:08}"), vec![7u8; 300]]).unwrap();
            }
            tx.execute("UPDATE t SET body = zeroblob(100) WHERE id <= 400", []).unwrap();
            tx.execute("UPDATE total SET n = (SELECT count(*) FROM t)", []).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(crash_image_rows(&path), 400);
        {
            // Spilled frames of a transaction that rolls back are never published.
            let tx = conn.unchecked_transaction().unwrap();
            for i in 400..900 {
                tx.execute("INSERT INTO t (k, body) VALUES (?1, ?2)", rusqlite::params![format!("key-{i:08}"), vec![9u8; 300]]).unwrap();
            }
            assert_eq!(crash_image_rows(&path), 400);
            tx.rollback().unwrap();
        }
        assert_eq!(crash_image_rows(&path), 400);
        conn.execute_batch("UPDATE t SET body = zeroblob(100); UPDATE total SET n = (SELECT count(*) FROM t);").unwrap();
        insert(&conn, 1000, 5, 100);
        assert_eq!(crash_image_rows(&path), 405);
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_transaction_larger_than_the_buffer_is_written_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = setup(&dir);
        let (_, iss0) = counts_after_first_write(&conn);
        insert(&conn, 0, 3000, 1000);
        let (_, iss1) = counts(&conn);
        // ~3.4 MiB in pieces of at most 64 KiB, never one write per frame header and page.
        assert!((50..200).contains(&(iss1 - iss0)), "a ~3 MiB commit in {} writes", iss1 - iss0);
        assert_eq!(crash_image_rows(&path), 3000);
    }

    fn counts_after_first_write(conn: &Connection) -> (u64, u64) {
        insert(conn, -10, 1, 10);
        conn.execute("DELETE FROM t WHERE id = (SELECT max(id) FROM t)", []).unwrap();
        conn.execute("UPDATE total SET n = n - 1", []).unwrap();
        counts(conn)
    }

    #[test]
    fn synchronous_full_commits_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.sqlite").to_string_lossy().into_owned();
        let conn = open_connection(&path, ConnSettings { busy_timeout_ms: 5000, synchronous_full: true }, None).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, body BLOB NOT NULL);
             CREATE TABLE total (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
             INSERT INTO total VALUES (1, 0);",
        )
        .unwrap();
        for i in 0..30 {
            insert(&conn, i * 2, 2, 900);
            assert_eq!(crash_image_rows(&path), (i + 1) * 2);
        }
    }

    #[test]
    fn a_log_restarted_by_another_library_is_continued_correctly() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = setup(&dir);
        insert(&conn, 0, 200, 1000);
        // Another SQLite (default VFS) checkpoints, truncates the WAL and writes a new log
        // generation: our connection's next frames land below where its last commit ended.
        let other = Connection::open(&path).unwrap();
        other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        other.execute_batch("INSERT INTO t (k, body) VALUES ('other', zeroblob(700)); UPDATE total SET n = n + 1;").unwrap();
        for i in 0..5 {
            let (_, iss0) = counts(&conn);
            insert(&conn, 1000 + i, 1, 700);
            let (_, iss1) = counts(&conn);
            assert_eq!(crash_image_rows(&path), 202 + i);
            if i >= 2 {
                assert_eq!(iss1 - iss0, 1, "coalescing resumes after the log restart");
            }
        }
    }

    /// Spilled frames of a transaction that rolls back must never reach the file later: by
    /// then another connection may have committed its own frames at the same offsets.
    #[test]
    fn frames_of_a_rolled_back_transaction_never_overwrite_later_commits() {
        rolled_back_frames_never_overwrite_later_commits(false);
    }

    /// The same when the connection's rollback hook has been replaced (an application may set
    /// its own on a handler's connection): releasing the WAL write lock drops the frames.
    #[test]
    fn rolled_back_frames_are_dropped_without_the_rollback_hook() {
        rolled_back_frames_never_overwrite_later_commits(true);
    }

    #[test]
    fn the_wal_is_linked_to_its_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let (_path, conn) = setup(&dir);
        insert(&conn, 0, 1, 10);
        let mut main: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: FILE_POINTER stores the connection's database file object in `main`.
        unsafe {
            let rc = ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), ffi::SQLITE_FCNTL_FILE_POINTER, &mut main as *mut _ as *mut c_void);
            assert_eq!(rc, ffi::SQLITE_OK);
            assert!(std::ptr::eq((*main).pMethods, &MAIN_METHODS), "database file not wrapped");
            let wal = (*(main as *mut MainFile)).wal;
            assert!(!wal.is_null(), "WAL not linked to its database file");
            assert!(std::ptr::eq((*wal).batch as *const Batch, batch(&conn) as *const Batch));
        }
    }

    fn rolled_back_frames_never_overwrite_later_commits(remove_rollback_hook: bool) {
        let dir = tempfile::tempdir().unwrap();
        let (path, a) = setup(&dir);
        insert(&a, 0, 10, 100);
        a.execute_batch("PRAGMA cache_size = 8; PRAGMA cache_spill = 4;").unwrap();
        if remove_rollback_hook {
            // SAFETY: `a` is open and used by this thread only.
            unsafe { ffi::sqlite3_rollback_hook(a.handle(), None, std::ptr::null_mut()) };
        }
        let b = open_connection(&path, SETTINGS, None).unwrap();
        for (round, how) in ["explicit ROLLBACK", "failed autocommit statement"].into_iter().enumerate() {
            // Every committed page in the database file: undoing the transaction then reloads
            // pages from there, so nothing reads (and so writes out) the WAL during rollback.
            a.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
            if round == 0 {
                let tx = a.unchecked_transaction().unwrap();
                let mut i = 0;
                while i < 300 || (batch(&a).buf.is_empty() && i < 5000) {
                    tx.execute("INSERT INTO t (k, body) VALUES (?1, ?2)", rusqlite::params![format!("spill-{i}"), vec![5u8; 300]]).unwrap();
                    i += 1;
                }
                assert!(!batch(&a).buf.is_empty(), "the test needs spilled frames still buffered");
                tx.rollback().unwrap();
            } else {
                // One statement that spills, then fails on its last row (a duplicate key): SQLite
                // rolls the implicit transaction back.
                let err = a
                    .execute(
                        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300)
                         INSERT INTO t (k, body) SELECT 'auto-' || i, zeroblob(300) FROM c
                         UNION ALL SELECT 'key-00000000', x''",
                        [],
                    )
                    .unwrap_err();
                assert!(err.to_string().contains("UNIQUE"), "{err}");
            }
            assert!(batch(&a).buf.is_empty(), "{how}: uncommitted frames still buffered after the rollback");
            // Another connection commits where the rolled-back frames were ...
            insert(&b, 10_000 + round as i64 * 1000, 600, 300);
            // ... and this connection's next read of its WAL must not write the old frames first.
            let n: i64 = a.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(n, 10 + 600 * (round as i64 + 1), "{how}");
            assert_eq!(crash_image_rows(&path), 10 + 600 * (round as i64 + 1), "{how}");
        }
        let check: String = b.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }
}
