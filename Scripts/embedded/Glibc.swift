// `Glibc` for the embedded build of kognita-agent. The toolchain's Glibc
// overlay is built for full Swift only, so this module stands in for it: it
// re-exports the C library and adds the few names the overlay provides that
// the agent's sources use. The sources keep their `import Glibc`, and the
// regular and embedded builds compile the same files.
@_exported import CGlibc

/// The calling thread's errno (a macro in C).
public var errno: Int32 {
    get { kognita_errno() }
    set { kognita_set_errno(newValue) }
}

/// The process environment (`extern char **environ`).
public var environ: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> { kognita_environ() }

/// open(2) without a mode.
public func open(_ path: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { kognita_open(path, flags, 0) }

/// open(2) with the mode for a created file.
public func open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 { kognita_open(path, flags, mode) }
