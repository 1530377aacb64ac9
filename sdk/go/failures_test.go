package usage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuotaSplitsTheBatchAndRejectsTheRest(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "quota-split")
	st.setQuota(t, client.id, 30)
	sp := newSpy(t, st.base)
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key, FlushAt: 100, FlushInterval: time.Hour, OnError: log.add})

	ids := make([]string, 50)
	for i := range ids {
		ids[i] = c.Track(sampleHit(i))
	}
	err := c.Flush(ctxTimeout(t, 10*time.Second))
	var fe *FlushError
	if !errors.As(err, &fe) || fe.Sent != 30 || fe.Rejected != 20 || fe.Dropped != 0 || !errors.Is(err, ErrRejected) {
		t.Fatalf("Flush: %v, want 30 sent and 20 rejected", err)
	}
	reqs := sp.seen("/api/logs/batch")
	if got := hitsOfRequests(reqs); !reflect.DeepEqual(got, []int{50, 30}) || !reflect.DeepEqual(statusesOf(reqs), []int{429, 202}) {
		t.Fatalf("requests %v with statuses %v, want 50 (429) then the 30 that fit (202)", got, statusesOf(reqs))
	}
	if s := c.Stats(); s.Sent != 30 || s.Rejected != 20 {
		t.Fatalf("stats %+v", s)
	}
	eventually(t, 5*time.Second, func() string {
		reported, n := log.hitErrors(ErrRateLimited)
		if n != 20 {
			return fmt.Sprintf("%d hits reported over quota, want 20", n)
		}
		if !reflect.DeepEqual(reported[0].EventIDs, ids[30:]) || reported[0].StatusCode != 429 || reported[0].Code != "RATE_LIMITED" {
			return fmt.Sprintf("reported %+v, want the last 20 ids with 429 RATE_LIMITED", reported[0])
		}
		return ""
	})
	want := map[string]bool{}
	for _, id := range ids[:30] {
		want[id] = true
	}
	eventually(t, 20*time.Second, func() string {
		if got := st.storedIDs(t, client.id); !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%d hits stored, want exactly the first 30", len(got))
		}
		return ""
	})
}

func TestBadRequestNamingAnIndexRejectsThatHitOnly(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "bad-index")
	sp := newSpy(t, st.base)
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key, FlushAt: 100, FlushInterval: time.Hour, OnError: log.add})

	ids := make([]string, 10)
	for i := range ids {
		h := sampleHit(i)
		if i == 4 {
			h.Timestamp = time.Now().Add(-40 * 24 * time.Hour) // older than MAX_EVENT_AGE_DAYS (30)
		}
		ids[i] = c.Track(h)
	}
	err := c.Flush(ctxTimeout(t, 10*time.Second))
	var fe *FlushError
	if !errors.As(err, &fe) || fe.Sent != 9 || fe.Rejected != 1 {
		t.Fatalf("Flush: %v, want 9 sent and 1 rejected", err)
	}
	reqs := sp.seen("/api/logs/batch")
	if got := hitsOfRequests(reqs); !reflect.DeepEqual(got, []int{10, 9}) || !reflect.DeepEqual(statusesOf(reqs), []int{400, 202}) {
		t.Fatalf("requests %v with statuses %v, want 10 (400) then 9 (202)", got, statusesOf(reqs))
	}
	eventually(t, 5*time.Second, func() string {
		reported, n := log.hitErrors(ErrInvalidHit)
		if n != 1 {
			return fmt.Sprintf("%d invalid hits reported, want 1", n)
		}
		if r := reported[0]; !reflect.DeepEqual(r.EventIDs, []string{ids[4]}) || r.StatusCode != 400 ||
			!strings.Contains(r.Message, "body/hits/4/timestamp") {
			return fmt.Sprintf("reported %+v, want hit 4 with the service's message", r)
		}
		return ""
	})
	eventually(t, 20*time.Second, func() string {
		got := st.storedIDs(t, client.id)
		if len(got) != 9 || got[ids[4]] {
			return fmt.Sprintf("%d hits stored (the old one: %v), want the 9 others", len(got), got[ids[4]])
		}
		return ""
	})
}

func TestUnknownKeyRejectsTheBatch(t *testing.T) {
	st := needStack(t)
	log := &errorLog{}
	unknown := "uk_" + strings.Repeat("x", 43)
	c := newClient(t, Config{BaseURL: st.base, APIKey: unknown, FlushAt: 100, FlushInterval: time.Hour, OnError: log.add})
	for i := 0; i < 5; i++ {
		c.Track(sampleHit(i))
	}
	err := c.Flush(ctxTimeout(t, 10*time.Second))
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("Flush: %v, want the batch rejected", err)
	}
	if s := c.Stats(); s.Rejected != 5 || s.Sent != 0 || s.Retried != 0 {
		t.Fatalf("stats %+v, want 5 rejected and no retry", s)
	}
	eventually(t, 5*time.Second, func() string {
		reported, n := log.hitErrors(ErrUnauthorized)
		if n != 5 || reported[0].StatusCode != 401 || !errors.Is(reported[0], ErrRejected) || strings.Contains(reported[0].Error(), unknown) {
			return fmt.Sprintf("reported %v, want 5 hits unauthorized (401) with the key masked", log.all())
		}
		return ""
	})
}

// A dead gateway: memory stays bounded by MaxQueueSize and every drop is counted and reported.
func TestDeadGatewayKeepsMemoryBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens: connection refused

	// The reports are tallied, not kept, so the heap measured is the client's.
	var mu sync.Mutex
	reported := map[error]int{}
	calls := 0
	tally := func(err error) {
		var he *HitError
		if errors.As(err, &he) {
			mu.Lock()
			reported[he.Kind] += he.Count
			calls++
			mu.Unlock()
		}
	}
	c, err := New(Config{BaseURL: dead, APIKey: "uk_dead", FlushAt: 100, MaxQueueSize: 2000, MaxInFlight: 2,
		MaxRetries: 1_000_000, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 20 * time.Millisecond, OnError: tally})
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const total = 300_000
	var before uint64
	for i := 0; i < total; i++ {
		c.Track(sampleHit(i))
		if i == 20_000 {
			before = heap()
		}
	}
	after := heap()
	s := c.Stats()
	if held := s.Queued + s.InFlight; held > 2000 || s.Dropped != total-held || s.Sent != 0 {
		t.Fatalf("stats %+v: want at most 2000 held and the rest dropped", s)
	}
	if s.Retried == 0 {
		t.Fatalf("stats %+v: the dead gateway was never retried", s)
	}
	if after > before+2<<20 {
		t.Fatalf("heap grew from %d to %d bytes while tracking into a dead gateway", before, after)
	}
	t.Logf("heap after 20k hits %.1f MiB, after %dk %.1f MiB; %+v", float64(before)/(1<<20), total/1000, float64(after)/(1<<20), s)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrDropped) {
		t.Fatalf("Close: %v, want the deadline and drops", err)
	}
	s = c.Stats()
	if s.Dropped != total || s.Queued != 0 || s.InFlight != 0 {
		t.Fatalf("after Close: %+v, want all %d dropped", s, total)
	}
	mu.Lock()
	defer mu.Unlock()
	if full, late := reported[ErrQueueFull], reported[ErrDeadline]; full+late != total || full == 0 || len(reported) != 2 {
		t.Fatalf("reported %v, want %d queue-full and deadline drops in all", reported, total)
	}
	if calls > 1000 {
		t.Fatalf("%d calls of OnError: a burst of drops should be merged", calls)
	}
}

// Close with a deadline, against a server that accepts and never answers.
func TestCloseHonoursItsDeadlineAgainstAStalledServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never read, never answered
		}
	}()
	log := &errorLog{}
	c, err := New(Config{BaseURL: "http://" + ln.Addr().String(), APIKey: "uk_stalled", FlushAt: 5, Timeout: time.Minute, OnError: log.add})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		c.Track(sampleHit(i))
	}
	eventually(t, 5*time.Second, func() string {
		if s := c.Stats(); s.InFlight == 0 {
			return fmt.Sprintf("stats %+v: waiting for a request in flight", s)
		}
		return ""
	})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.Close(ctx)
	elapsed := time.Since(start)
	if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("Close took %v, want its 300 ms deadline", elapsed)
	}
	var fe *FlushError
	if !errors.As(err, &fe) || !errors.Is(err, context.DeadlineExceeded) || fe.Dropped != 12 {
		t.Fatalf("Close: %v, want 12 dropped at the deadline", err)
	}
	if s := c.Stats(); s.Dropped != 12 || s.Queued+s.InFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
	id := c.Track(sampleHit(0))
	if s := c.Stats(); s.Dropped != 13 || !isUUID(id) {
		t.Fatalf("Track after Close: stats %+v, id %q", s, id)
	}
	if _, n := log.hitErrors(ErrClosed); n != 1 {
		t.Fatalf("Track after Close reported %d times, want once: %v", n, log.all())
	}
	if _, n := log.hitErrors(ErrDeadline); n != 12 {
		t.Fatalf("%d hits reported dropped at the deadline, want 12", n)
	}
	start = time.Now()
	if err := c.Close(context.Background()); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("second Close: %v after %v", err, time.Since(start))
	}
}
