//! The peak heap memory of one run's training: the most bytes that the allocations made
//! while it trained held at once (model, optimizer state, activations, gradients, dfdx's
//! cache of freed buffers, evaluation), counted by the global allocator.
//!
//! The binary's global allocator is mimalloc wrapped by `tracking_allocator`, which tags
//! each allocation with the allocation group current on its thread and reports every
//! allocation and free to the tracker here. `measure` gives a run its own group for the
//! duration of a closure; a free is charged to the group that made the allocation, on
//! whichever thread it happens. So runs training side by side on a sweep's threads do not
//! count in each other's peak, unlike the process's resident set (`VmHWM`). The count is of
//! requested bytes (`Layout::size`), not of the allocator's pages: on one thread it is a
//! pure function of the run's computation. Where a sweep's thread pool also parallelises a
//! large matrix product (dfdx's gemm on rayon), a piece of it that runs on another run's
//! thread charges its scratch buffer there: a small, rare difference.
//!
//! Each thread's long-lived scratch buffers are made before its first measured run
//! (`prepare_thread`).
//!
//! Where the global allocator is not the wrapper (the library's unit tests), `install` is
//! never called or finds nothing counted, and `measure` returns `None`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker,
};

/// Groups measured at once, at most: group `id` counts in slot `id % SLOTS`. A group
/// whose slot is taken (a run outlasting the registration of `SLOTS` later ones) is not
/// measured.
const SLOTS: usize = 4096;

/// The live and peak bytes of the group `group` (0: a free slot).
struct Slot {
    group: AtomicUsize,
    live: AtomicI64,
    peak: AtomicI64,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        group: AtomicUsize::new(0),
        live: AtomicI64::new(0),
        peak: AtomicI64::new(0),
    }
}; SLOTS];

/// Whether the global allocator reports to `Meter` (checked by `install`).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The tracker: it neither allocates nor locks (it runs inside the allocator).
struct Meter;

fn slot_of(group: &AllocationGroupId) -> Option<&'static Slot> {
    let id = group.as_usize().get();
    let slot = &TABLE[id % SLOTS];
    (slot.group.load(Ordering::Relaxed) == id).then_some(slot)
}

impl AllocationTracker for Meter {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, group: AllocationGroupId) {
        if let Some(slot) = slot_of(&group) {
            let live = slot.live.fetch_add(size as i64, Ordering::Relaxed) + size as i64;
            slot.peak.fetch_max(live, Ordering::Relaxed);
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        size: usize,
        _wrapped: usize,
        source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
        if let Some(slot) = slot_of(&source) {
            slot.live.fetch_sub(size as i64, Ordering::Relaxed);
        }
    }
}

/// Starts counting; for a binary whose `#[global_allocator]` is
/// `tracking_allocator::Allocator`. Returns whether `measure` now measures (it checks by
/// measuring an allocation of its own).
pub fn install() -> bool {
    let _ = AllocationRegistry::set_global_tracker(Meter);
    AllocationRegistry::enable_tracking();
    let ((), peak) = measure_in_group(|| {
        let probe = std::hint::black_box(vec![1u8; 1 << 16]);
        drop(probe);
    });
    let counted = peak.is_some_and(|p| p >= 1 << 16);
    ACTIVE.store(counted, Ordering::SeqCst);
    if !counted {
        AllocationRegistry::disable_tracking();
    }
    counted
}

/// Runs `f` in an allocation group of its own and returns its result with the peak of the
/// bytes its allocations held at once; `None` where nothing is counted (see `install`) or
/// the group could not get a slot.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<u64>) {
    if !ACTIVE.load(Ordering::Relaxed) {
        return (f(), None);
    }
    prepare_thread();
    measure_in_group(f)
}

thread_local! {
    static PREPARED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The matrix-product library under dfdx (gemm) allocates a scratch buffer the size of
/// the L2 cache on each thread's first product and keeps it for the thread's life: made
/// here, before the thread's first group, no run is charged for it (the first run on a
/// thread would otherwise weigh about a MiB more than the same run after it).
fn prepare_thread() {
    if !PREPARED.with(|p| p.replace(true)) {
        let _ =
            mtlbench_algorithms::bench::matmul_gflops(&mtlbench_algorithms::device::cpu(), 128, 1);
    }
}

fn measure_in_group<R>(f: impl FnOnce() -> R) -> (R, Option<u64>) {
    let Some(mut token) = AllocationGroupToken::register() else {
        return (f(), None);
    };
    let id = token.id().as_usize().get();
    let slot = &TABLE[id % SLOTS];
    let claimed = slot
        .group
        .compare_exchange(0, id, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !claimed {
        return (f(), None);
    }
    // Nothing is charged to the group before it is entered.
    slot.live.store(0, Ordering::SeqCst);
    slot.peak.store(0, Ordering::SeqCst);
    // Frees the slot also when `f` panics.
    let held = Held(slot);
    let result = {
        let _guard = token.enter();
        f()
    };
    let peak = held.0.peak.load(Ordering::SeqCst);
    drop(held);
    (result, Some(peak.max(0) as u64))
}

/// A claimed slot, freed on drop.
struct Held(&'static Slot);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.group.store(0, Ordering::SeqCst);
    }
}
