/// Software prefetch for the burst pipelines (classifier and flow table): Swift has no
/// prefetch builtin and this package has no C, so the LLVM intrinsic is declared by its
/// symbol name; LLVM turns the call into one `prefetcht0` instruction (checked in the
/// release assembly), which retires at once instead of holding the reorder buffer as a
/// plain load of the same line would. Its operands other than the address must be constants.
#if GBP_NO_PREFETCH
// -sanitize=thread builds (Tests/Fuzz/sanitize.sh passes -DGBP_NO_PREFETCH): the thread
// sanitizer turns calls into invokes, an intrinsic cannot be invoked, and the compiler
// aborts ("Cannot invoke an intrinsic"). There, prefetching does nothing.
@inlinable @inline(__always)
func prefetch(_ p: UnsafeRawPointer) {}
#else
@usableFromInline @_silgen_name("llvm.prefetch.p0")
func _llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ dataCache: Int32)

/// Starts loading the cache line of `p` into all cache levels, without waiting for it.
@inlinable @inline(__always)
func prefetch(_ p: UnsafeRawPointer) {
    _llvmPrefetch(p, 0, 3, 1)
}
#endif
