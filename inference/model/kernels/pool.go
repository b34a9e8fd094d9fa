package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool: Threads()-1 long-lived goroutines plus the calling goroutine
// share each parallel call. Starting a goroutine per call costs more than a whole
// 2048-row matvec, and so does waking a parked one (tens of µs on a VM): a worker
// that has just finished a job polls its slot for spinTime before it parks, so
// the back-to-back matmuls of a decode step find it awake. After a short burst it
// polls between sched_yield calls, so on a shared machine it does not take the
// core from the thread that is about to hand it work.

// chunkRows is how many rows one grab of work covers: large enough that the grab
// (one atomic add) is negligible, small enough to balance two to a few dozen cores.
const chunkRows = 64

// spinTime is how long an idle worker polls for the next job before parking.
const spinTime = 200 * time.Microsecond

type job struct {
	fn    func(lo, hi int)
	n     int
	chunk int
	next  atomic.Int64
	left  atomic.Int32 // workers that took the job and have not finished it
	wg    sync.WaitGroup
}

func (j *job) run() {
	for {
		lo := int(j.next.Add(int64(j.chunk))) - j.chunk
		if lo >= j.n {
			return
		}
		j.fn(lo, min(lo+j.chunk, j.n))
	}
}

type worker struct {
	slot  atomic.Pointer[job] // the job handed to this worker, nil when none
	state atomic.Int32        // 0: running or spinning; 1: parked on wake
	wake  chan struct{}       // buffered 1: whoever flips state 1→0 sends once
}

type pool struct {
	workers []*worker
	done    atomic.Bool
}

var (
	poolMu  sync.RWMutex
	thePool *pool
	nthread = runtime.GOMAXPROCS(0)
	jobs    = sync.Pool{New: func() any { return new(job) }}
)

func startPool(n int) *pool {
	p := &pool{}
	for range n - 1 {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.loop(w)
	}
	return p
}

// take runs the job in w's slot, if any.
func (w *worker) take() bool {
	j := w.slot.Swap(nil)
	if j == nil {
		return false
	}
	j.run()
	j.left.Add(-1)
	j.wg.Done() // j may be reused from here on: do not touch it again
	return true
}

func (p *pool) loop(w *worker) {
	for {
		var deadline time.Time
		for i := 1; ; i++ {
			if w.take() {
				i, deadline = 0, time.Time{}
				continue
			}
			if p.done.Load() {
				return // no job can be in the slot: SetThreads holds the write lock
			}
			if i > 64 {
				osYield()
			}
			if i&15 == 0 {
				now := time.Now()
				if deadline.IsZero() {
					deadline = now.Add(spinTime)
				} else if now.After(deadline) {
					break
				}
			}
		}
		w.state.Store(1)
		if w.slot.Load() != nil || p.done.Load() {
			// A job (or shutdown) raced with parking. If a dispatcher already
			// flipped state back it has sent, or will send, one wake-up: drain it.
			if !w.state.CompareAndSwap(1, 0) {
				<-w.wake
			}
			continue
		}
		<-w.wake
	}
}

// waitSpins bounds how long (in polls) the caller polls for the workers to
// finish a job before blocking on its WaitGroup.
const waitSpins = 1 << 14

// waitWorkers polls until the workers that took j are done, for a bounded time.
// A caller parked in WaitGroup.Wait is readied onto the finishing worker's P,
// where it waits behind the worker's own polling loop until another P steals it
// (tens of µs on a 2-core VM); a decode step has a hundred such hand-offs, each
// normally only a few µs apart, so polling is the cheaper wait.
func waitWorkers(j *job) {
	for i := 1; i <= waitSpins && j.left.Load() > 0; i++ {
		if i&255 == 0 {
			osYield()
		}
	}
}

// SetThreads sets how many goroutines (the caller included) MatVec, MatMul and
// the other parallel kernels use; n < 1 means runtime.GOMAXPROCS(0). Call it at
// set-up, not concurrently with kernels in flight on other goroutines.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	if p := thePool; p != nil {
		p.done.Store(true)
		for _, w := range p.workers {
			if w.state.CompareAndSwap(1, 0) {
				w.wake <- struct{}{}
			}
		}
		thePool = nil
	}
	nthread = n
}

// Threads returns the number of threads the parallel kernels use.
func Threads() int {
	poolMu.RLock()
	defer poolMu.RUnlock()
	return nthread
}

// parallelFor calls fn over [0, n) split into pieces of chunk, spread over the
// pool; it returns when every piece is done. Pieces never overlap, so fn may write
// to disjoint parts of a shared output without locking. Concurrent callers share
// the workers: a worker busy with another caller's job is skipped, and the caller
// does the pieces nobody took.
func parallelFor(n, chunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if chunk < 1 {
		chunk = 1
	}
	poolMu.RLock()
	t := nthread
	if t <= 1 || n <= chunk {
		poolMu.RUnlock()
		fn(0, n)
		return
	}
	if thePool == nil {
		poolMu.RUnlock()
		poolMu.Lock()
		if thePool == nil {
			thePool = startPool(nthread)
		}
		poolMu.Unlock()
		poolMu.RLock()
	}
	p := thePool
	j := jobs.Get().(*job)
	j.fn, j.n, j.chunk = fn, n, chunk
	j.next.Store(0)
	want := min(len(p.workers), (n+chunk-1)/chunk-1)
	for _, w := range p.workers {
		if want == 0 {
			break
		}
		j.wg.Add(1)
		if !w.slot.CompareAndSwap(nil, j) {
			j.wg.Done() // busy with another caller's job
			continue
		}
		want--
		j.left.Add(1)
		if w.state.CompareAndSwap(1, 0) {
			w.wake <- struct{}{}
		}
	}
	poolMu.RUnlock()
	j.run()
	waitWorkers(j)
	j.wg.Wait()
	j.fn = nil
	jobs.Put(j)
}
