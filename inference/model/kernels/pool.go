package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: Threads()-1 long-lived goroutines plus the calling goroutine
// share each parallel call. Starting a goroutine per call costs more than a whole
// 2048-row matvec, so workers stay parked on their channels between calls.

// chunkRows is how many rows one grab of work covers: large enough that the grab
// (one atomic add) is negligible, small enough to balance two to a few dozen cores.
const chunkRows = 64

type job struct {
	fn    func(lo, hi int)
	n     int
	chunk int
	next  atomic.Int64
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

type pool struct {
	workers []chan *job
	done    chan struct{}
}

var (
	poolMu  sync.RWMutex
	thePool *pool
	nthread = runtime.GOMAXPROCS(0)
	jobs    = sync.Pool{New: func() any { return new(job) }}
)

func startPool(n int) *pool {
	p := &pool{done: make(chan struct{})}
	for range n - 1 {
		ch := make(chan *job, 4)
		p.workers = append(p.workers, ch)
		go func() {
			for {
				select {
				case j := <-ch:
					j.run()
					j.wg.Done()
				case <-p.done:
					// No sender can be left (SetThreads holds the write lock), but a
					// job may already sit in the buffer: its caller waits on it.
					for {
						select {
						case j := <-ch:
							j.run()
							j.wg.Done()
						default:
							return
						}
					}
				}
			}
		}()
	}
	return p
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
	if thePool != nil {
		close(thePool.done)
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
// to disjoint parts of a shared output without locking.
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
	helpers := min(len(p.workers), (n+chunk-1)/chunk-1)
	j.wg.Add(helpers)
	for _, ch := range p.workers[:helpers] {
		ch <- j
	}
	poolMu.RUnlock()
	j.run()
	j.wg.Wait()
	j.fn = nil
	jobs.Put(j)
}
