package usage

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Client meters hits. It is safe for concurrent use by many goroutines. Create it once
// with New, and Close it when the program stops.
type Client struct {
	cfg      Config
	http     *http.Client
	ownHTTP  *http.Transport // closed by Close when the client made it
	reporter *reporter

	rootCtx    context.Context // cancelled when Close gives up waiting: every request stops
	rootCancel context.CancelFunc
	senders    sync.WaitGroup

	mu       sync.Mutex
	work     *sync.Cond // senders wait here for a ready batch
	buffers  map[string]*keyBuffer
	ready    []*batch // cut batches waiting for a sender, oldest first
	inflight map[*batch]struct{}
	seq      uint64 // sequence number of the last queued hit
	stats    Stats
	waiters  []*flushWaiter
	timer    *time.Timer
	armed    bool // the timer will fire for a non-empty buffer
	maxBytes int  // batch body limit, lowered by a 413
	// initialCap is a new buffer's capacity: a quiet key's buffer stays small, a busy
	// key's grows by doubling up to FlushAt.
	initialCap int
	closed     bool // Track refuses
	stopping   bool // senders exit once nothing is ready
	closeDone  chan struct{}

	quota  quotaCache
	tokens tokenCache
}

// Stats counts the hits given to Track. Every tracked hit is in exactly one of Queued,
// InFlight, Sent, Rejected and Dropped.
type Stats struct {
	Queued     int64 // waiting in memory for a batch request
	InFlight   int64 // in a batch request being sent (or waiting to be retried)
	Sent       int64 // acknowledged by the service (202), duplicates included
	Duplicates int64 // of Sent, those the service already had (same event id)
	Retried    int64 // hit sends repeated after a network error, timeout, 408 or 5xx
	Rejected   int64 // refused for good: invalid, over quota, unauthorized
	Dropped    int64 // given up: queue full, retries exhausted, after Close, flush deadline
}

// hitRec is one queued hit: its JSON body, which ends with its event id.
type hitRec struct {
	body []byte
	seq  uint64
}

// eventID is the hit's id, read from the end of its body: ...,"event_id":"<36>"}.
func (h *hitRec) eventID() string { return string(h.body[len(h.body)-38 : len(h.body)-2]) }

type keyBuffer struct {
	hits    []hitRec
	bytes   int // sum of the bodies' lengths
	firstAt time.Time
}

// batch is a group of hits of one key on its way to the service.
type batch struct {
	key    string
	hits   []hitRec
	ctx    context.Context
	cancel context.CancelFunc
}

type flushWaiter struct {
	seq     uint64 // hits up to this sequence number were tracked before the flush
	pending int64
	counts  [3]int64 // by outcome
	done    chan struct{}
}

type outcome int

const (
	outSent outcome = iota
	outRejected
	outDropped
)

// batchOverhead is `{"hits":[` and `]}`; each hit after the first adds a comma.
const batchOverhead = len(`{"hits":[]}`)

// New makes a client and starts its senders. It returns an error only for an invalid Config.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:        cfg,
		buffers:    make(map[string]*keyBuffer),
		inflight:   make(map[*batch]struct{}),
		maxBytes:   cfg.MaxBatchBytes,
		initialCap: cfg.FlushAt,
		closeDone:  make(chan struct{}),
		reporter:   newReporter(cfg.OnError),
	}
	c.http = cfg.HTTPClient
	if c.http == nil {
		// net/http's defaults (proxy from the environment, dial and TLS timeouts), with
		// enough idle connections kept for every sender.
		transport := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, MaxIdleConns: 100,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			transport = t.Clone()
		}
		transport.MaxIdleConnsPerHost = cfg.MaxInFlight + 4
		c.ownHTTP = transport
		c.http = &http.Client{Transport: transport}
	}
	if c.initialCap > 64 {
		c.initialCap = 64
	}
	c.work = sync.NewCond(&c.mu)
	c.rootCtx, c.rootCancel = context.WithCancel(context.Background())
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	c.senders.Add(cfg.MaxInFlight)
	for i := 0; i < cfg.MaxInFlight; i++ {
		go c.sender()
	}
	return c, nil
}

// Track queues a hit under the default API key and returns its event id at once; it never
// blocks on the network. A hit that can never be valid (bad IP, endpoint not starting with
// "/", ...) is not queued: Go has no TypeError, so it is reported to OnError as an
// ErrInvalidHit and counted in Stats.Rejected. Every later failure is reported there too.
func (c *Client) Track(h Hit) string {
	if c == nil {
		return ""
	}
	return c.TrackWithKey(c.cfg.APIKey, h)
}

// TrackWithKey is Track under another API key (a batch carries the hits of one key).
func (c *Client) TrackWithKey(key string, h Hit) string {
	if c == nil {
		return ""
	}
	var id [36]byte
	eventIDOf(&h, &id)
	method, reason := checkHit(&h)
	if reason == "" && key == "" {
		c.refuse(key, string(id[:]), &HitError{Kind: ErrUnauthorized, Message: "no API key"})
		return string(id[:])
	}
	if reason != "" {
		c.refuse(key, string(id[:]), &HitError{Kind: ErrInvalidHit, Message: reason})
		return string(id[:])
	}
	ts := h.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	// Sized for the usual hit, so the body is one allocation.
	rec := hitRec{body: appendHit(make([]byte, 0, hitBodyOverhead+len(h.IP)+len(h.Endpoint)), &h, method, ts, &id)}

	c.mu.Lock()
	if c.closed {
		c.stats.Dropped++
		c.mu.Unlock()
		c.reporter.report(&HitError{Kind: ErrClosed, Count: 1, EventIDs: []string{string(id[:])}, Key: maskKey(key), Message: "Track after Close"})
		return string(id[:])
	}
	if c.stats.Queued+c.stats.InFlight >= int64(c.cfg.MaxQueueSize) {
		c.stats.Dropped++
		c.mu.Unlock()
		c.reporter.report(&HitError{Kind: ErrQueueFull, Count: 1, EventIDs: []string{string(id[:])}, Key: maskKey(key),
			Message: "MaxQueueSize hits already held"})
		return string(id[:])
	}
	c.seq++
	rec.seq = c.seq
	c.stats.Queued++
	buf := c.buffers[key]
	if buf == nil {
		buf = &keyBuffer{}
		c.buffers[key] = buf
	}
	if len(buf.hits) > 0 && batchOverhead+buf.bytes+len(buf.hits)+len(rec.body) > c.maxBytes {
		c.cutLocked(key, buf)
	}
	if buf.hits == nil {
		buf.hits = make([]hitRec, 0, c.initialCap)
	}
	buf.hits = append(buf.hits, rec)
	buf.bytes += len(rec.body)
	if len(buf.hits) >= c.cfg.FlushAt || batchOverhead+buf.bytes+len(buf.hits)-1 >= c.maxBytes {
		c.cutLocked(key, buf)
	} else if len(buf.hits) == 1 {
		buf.firstAt = time.Now()
		if !c.armed {
			c.armed = true
			c.timer.Reset(c.cfg.FlushInterval)
		}
	}
	c.mu.Unlock()
	return string(id[:])
}

// eventIDOf fills in the hit's id: its own when it is a UUID, else a new one.
func eventIDOf(h *Hit, out *[36]byte) {
	if h.EventID != "" && !isUUID(h.EventID) {
		newUUID(out)
		return
	}
	eventID(h, out)
}

// refuse counts and reports a hit that is never queued.
func (c *Client) refuse(key, id string, e *HitError) {
	c.mu.Lock()
	c.stats.Rejected++
	c.mu.Unlock()
	e.Count = 1
	e.EventIDs = []string{id}
	e.Key = maskKey(key)
	c.reporter.report(e)
}

// cutLocked turns a key's buffer into a batch ready to send.
func (c *Client) cutLocked(key string, buf *keyBuffer) {
	if len(buf.hits) == 0 {
		return
	}
	c.ready = append(c.ready, &batch{key: key, hits: buf.hits})
	buf.hits = nil
	buf.bytes = 0
	c.work.Signal()
}

// onTimer cuts the buffers that waited FlushInterval and re-arms for the oldest other one.
func (c *Client) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	next := time.Duration(-1)
	for key, buf := range c.buffers {
		if len(buf.hits) == 0 {
			delete(c.buffers, key)
			continue
		}
		left := c.cfg.FlushInterval - now.Sub(buf.firstAt)
		if left <= time.Millisecond {
			c.cutLocked(key, buf)
			delete(c.buffers, key)
			continue
		}
		if next < 0 || left < next {
			next = left
		}
	}
	c.armed = next >= 0 && !c.stopping
	if c.armed {
		c.timer.Reset(next)
	}
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// sender takes ready batches, one at a time, until Close.
func (c *Client) sender() {
	defer c.senders.Done()
	for {
		c.mu.Lock()
		for len(c.ready) == 0 && !c.stopping {
			c.work.Wait()
		}
		if len(c.ready) == 0 {
			c.mu.Unlock()
			return
		}
		b := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		n := int64(len(b.hits))
		c.stats.Queued -= n
		c.stats.InFlight += n
		b.ctx, b.cancel = context.WithCancel(c.rootCtx)
		c.inflight[b] = struct{}{}
		c.mu.Unlock()

		c.deliver(b)

		c.mu.Lock()
		delete(c.inflight, b)
		c.mu.Unlock()
		b.cancel()
	}
}

// settle records the final outcome of in-flight hits.
func (c *Client) settle(hits []hitRec, out outcome, duplicates int64) {
	if len(hits) == 0 {
		return
	}
	c.mu.Lock()
	c.stats.InFlight -= int64(len(hits))
	c.countLocked(hits, out, duplicates)
	c.mu.Unlock()
}

// countLocked adds settled hits to the counters and to the flushes waiting for them.
func (c *Client) countLocked(hits []hitRec, out outcome, duplicates int64) {
	n := int64(len(hits))
	switch out {
	case outSent:
		c.stats.Sent += n
		c.stats.Duplicates += duplicates
	case outRejected:
		c.stats.Rejected += n
	case outDropped:
		c.stats.Dropped += n
	}
	if len(c.waiters) == 0 {
		return
	}
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		for i := range hits {
			if hits[i].seq <= w.seq {
				w.pending--
				w.counts[out]++
			}
		}
		if w.pending <= 0 {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	for i := len(kept); i < len(c.waiters); i++ {
		c.waiters[i] = nil
	}
	c.waiters = kept
}

func (c *Client) addRetried(n int) {
	c.mu.Lock()
	c.stats.Retried += int64(n)
	c.mu.Unlock()
}

// Flush sends every buffered hit now and waits until each hit tracked before the call is
// acknowledged, rejected or dropped. It returns nil when all of them were acknowledged,
// else a *FlushError with the counts. When ctx ends first, the hits it waited for that are
// still held are dropped (and reported, with ErrDeadline), requests carrying them are
// cancelled, and the *FlushError wraps ctx.Err(). Hits tracked during the call are not
// waited for.
func (c *Client) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	return c.flush(ctx)
}

func (c *Client) flush(ctx context.Context) error {
	c.mu.Lock()
	for key, buf := range c.buffers {
		c.cutLocked(key, buf)
		delete(c.buffers, key)
	}
	pending := c.stats.Queued + c.stats.InFlight
	if pending == 0 {
		c.mu.Unlock()
		return nil
	}
	w := &flushWaiter{seq: c.seq, pending: pending, done: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()

	select {
	case <-w.done:
		return w.result(nil)
	case <-ctx.Done():
	}

	c.mu.Lock()
	select {
	case <-w.done:
		c.mu.Unlock()
		return w.result(nil)
	default:
	}
	for i, other := range c.waiters {
		if other == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			break
		}
	}
	// What this flush waited for and is still held is dropped: batches not yet sent now,
	// batches in flight when their sender sees the cancellation.
	w.counts[outDropped] += w.pending
	w.pending = 0
	var dropped []*batch
	kept := c.ready[:0]
	for _, b := range c.ready {
		if b.hits[0].seq <= w.seq {
			dropped = append(dropped, b)
			continue
		}
		kept = append(kept, b)
	}
	for i := len(kept); i < len(c.ready); i++ {
		c.ready[i] = nil
	}
	c.ready = kept
	for _, b := range dropped {
		c.stats.Queued -= int64(len(b.hits))
		c.countLocked(b.hits, outDropped, 0)
	}
	for b := range c.inflight {
		if b.hits[0].seq <= w.seq {
			b.cancel()
		}
	}
	c.mu.Unlock()
	for _, b := range dropped {
		c.reporter.report(hitError(ErrDeadline, b.key, b.hits, 0, "", "Flush or Close deadline passed before the batch was sent", ctx.Err()))
	}
	return w.result(ctx.Err())
}

func (w *flushWaiter) result(err error) error {
	if err == nil && w.counts[outRejected] == 0 && w.counts[outDropped] == 0 {
		return nil
	}
	return &FlushError{Sent: w.counts[outSent], Rejected: w.counts[outRejected], Dropped: w.counts[outDropped], Err: err}
}

// Close flushes every held hit, then stops the client: later Track calls are dropped and
// reported (ErrClosed). When ctx ends first, what is still held is dropped and reported and
// every request is cancelled; Close then returns a *FlushError wrapping ctx.Err(). It
// returns once the client's goroutines have stopped. Calling it again returns nil once
// the first call is done.
func (c *Client) Close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		select {
		case <-c.closeDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.closed = true
	c.mu.Unlock()

	err := c.flush(ctx)
	if ctx.Err() != nil {
		// Nothing more is waited for: stop every request and retry now.
		c.rootCancel()
	}
	c.mu.Lock()
	c.stopping = true
	c.timer.Stop()
	c.armed = false
	c.work.Broadcast()
	c.mu.Unlock()
	c.senders.Wait()
	c.rootCancel()
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
	c.reporter.close()
	close(c.closeDone)
	return err
}

func hitError(kind error, key string, hits []hitRec, status int, code, message string, cause error) *HitError {
	ids := make([]string, 0, len(hits))
	for i := range hits {
		if len(ids) == maxReportedIDs {
			break
		}
		ids = append(ids, hits[i].eventID())
	}
	return &HitError{Kind: kind, Count: len(hits), EventIDs: ids, Key: maskKey(key), StatusCode: status, Code: code, Message: message, Err: cause}
}
