//! rebound's global allocator: mimalloc, called through `mi_malloc` / `mi_realloc` /
//! `mi_free` whenever the alignment asked for is one every mimalloc block has anyway.
//!
//! The `mimalloc` crate's `MiMalloc` passes every request to `mi_malloc_aligned`, whose
//! checks (power of two, alignment against the free block at hand) come on top of
//! `mi_malloc`'s own fast path: callgrind over the bounce parser counted 66 instructions an
//! allocation, about 60 allocations a message (BENCHMARKS.md, bounce parser). Rust asks for
//! alignment 1, 2, 4 or 8 nearly always (strings, vectors of words and pointers), and
//! mimalloc's blocks are all a multiple of 8 bytes from an aligned start: those go straight
//! to `mi_malloc`. Anything aligned more strictly keeps the aligned calls.
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use libmimalloc_sys as ffi;

/// The alignment of every mimalloc block (its blocks' sizes are multiples of the word, and
/// every page's first block is aligned to 16 bytes).
const MIN_ALIGN: usize = core::mem::size_of::<usize>();

/// mimalloc as the global allocator; `#[global_allocator] static A: rebound_alloc::Mi = rebound_alloc::Mi;`.
pub struct Mi;

// SAFETY: every pointer returned comes from mimalloc, aligned as asked (by `mi_malloc` when
// the alignment is at most the word, every block being aligned so; by the aligned calls
// otherwise), and `mi_free` / `mi_realloc*` accept any pointer mimalloc returned.
unsafe impl GlobalAlloc for Mi {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            ffi::mi_malloc(layout.size()).cast()
        } else {
            ffi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            ffi::mi_zalloc(layout.size()).cast()
        } else {
            ffi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        ffi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            ffi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            ffi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Every size from 1 to 300, then sizes up to 4 KiB and a few large ones, at every alignment up to 4 KiB:
    /// the pointer is aligned, the memory writable, zeroed when asked, kept by `realloc`.
    #[test]
    fn blocks_are_aligned_and_usable() {
        let a = Mi;
        let mut sizes: Vec<usize> = (1..=300).collect();
        sizes.extend((300..=4096).step_by(37));
        sizes.extend([8 << 10, 64 << 10, 1 << 20, (4 << 20) + 3]);
        for &size in &sizes {
            for shift in 0..=12 {
                let align = 1usize << shift;
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size}, align {align}");
                    p.write_bytes(0xa5, size);
                    let q = a.realloc(p, layout, size * 2 + 1);
                    assert_eq!(q as usize % align, 0, "realloc: size {size}, align {align}");
                    let probe = (0..size).step_by(1 + size / 512).chain([size - 1]);
                    assert!(
                        probe.clone().all(|i| *q.add(i) == 0xa5),
                        "realloc kept the bytes"
                    );
                    a.dealloc(q, Layout::from_size_align(size * 2 + 1, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!(probe.clone().all(|i| *z.add(i) == 0), "zeroed");
                    a.dealloc(z, layout);
                }
            }
        }
    }

    /// Many small blocks alive at once: none overlaps another.
    #[test]
    fn live_blocks_do_not_overlap() {
        let a = Mi;
        let mut live: Vec<(usize, usize, Layout)> = Vec::new();
        for i in 0..20_000usize {
            let size = 1 + (i * 7919) % 300;
            let layout = Layout::from_size_align(size, 1 << (i % 4)).unwrap();
            let p = unsafe { a.alloc(layout) };
            assert!(!p.is_null());
            live.push((p as usize, size, layout));
        }
        let mut spans: Vec<(usize, usize)> = live.iter().map(|&(p, s, _)| (p, p + s)).collect();
        spans.sort_unstable();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        for (p, _, layout) in live {
            unsafe { a.dealloc(p as *mut u8, layout) };
        }
    }
}
