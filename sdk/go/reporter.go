package usage

import (
	"sync"
	"time"
)

const (
	maxReportedIDs  = 1000
	maxPendingItems = 4096
	// reportEvery spaces the rounds of OnError calls: the first error of a quiet spell is
	// reported at once, the rest of a burst up to this much later, merged.
	reportEvery = 100 * time.Millisecond
)

// reporter hands errors to OnError from a goroutine of its own, one at a time, so a slow or
// re-entrant callback never runs under a lock or in the caller's Track. Errors of the same
// kind and cause reported in a burst merge into one (a full queue drops thousands of hits a
// second); the count stays exact.
type reporter struct {
	onError func(error)
	calling sync.Mutex // one OnError call at a time
	mu      sync.Mutex
	pending []error
	wake    chan struct{}
	done    chan struct{}
	closed  chan struct{} // closed by close(): deliver what is pending and stop
	closing bool
}

func newReporter(onError func(error)) *reporter {
	r := &reporter{onError: onError, wake: make(chan struct{}, 1), done: make(chan struct{}), closed: make(chan struct{})}
	if onError == nil {
		close(r.done)
		return r
	}
	go r.run()
	return r
}

func (r *reporter) report(err error) {
	if r.onError == nil {
		return
	}
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		r.call(err)
		return
	}
	if !r.merge(err) {
		r.pending = append(r.pending, err)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// merge folds err into the last pending error when it has the same kind and cause. Once
// maxPendingItems errors are pending, it folds into any pending error of the same kind.
func (r *reporter) merge(err error) bool {
	he, ok := err.(*HitError)
	if !ok || len(r.pending) == 0 {
		return false
	}
	if len(r.pending) < maxPendingItems {
		prev, ok := r.pending[len(r.pending)-1].(*HitError)
		if !ok || prev.Kind != he.Kind || prev.StatusCode != he.StatusCode || prev.Message != he.Message || prev.Key != he.Key {
			return false
		}
		absorb(prev, he)
		return true
	}
	for i := len(r.pending) - 1; i >= 0; i-- {
		if prev, ok := r.pending[i].(*HitError); ok && prev.Kind == he.Kind {
			absorb(prev, he)
			return true
		}
	}
	return false
}

func absorb(into, e *HitError) {
	into.Count += e.Count
	for _, id := range e.EventIDs {
		if len(into.EventIDs) >= maxReportedIDs {
			break
		}
		into.EventIDs = append(into.EventIDs, id)
	}
}

func (r *reporter) run() {
	defer close(r.done)
	var last time.Time
	for {
		select {
		case <-r.wake:
		case <-r.closed:
		}
		// At most one round of calls per reportEvery: a burst gathers and merges meanwhile.
		if wait := reportEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.closed:
			}
			t.Stop()
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		closing := r.closing
		r.mu.Unlock()
		for _, err := range batch {
			r.call(err)
		}
		last = time.Now()
		if closing {
			return
		}
	}
}

func (r *reporter) call(err error) {
	r.calling.Lock()
	defer r.calling.Unlock()
	defer func() { _ = recover() }()
	r.onError(err)
}

// close delivers what is pending and stops; later reports are delivered synchronously.
func (r *reporter) close() {
	if r.onError == nil {
		return
	}
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	close(r.closed)
	<-r.done
}
