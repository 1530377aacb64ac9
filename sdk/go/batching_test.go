package usage

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestBatchingByCount(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "batch-count")
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key, FlushAt: 10, FlushInterval: time.Hour})

	for i := 0; i < 25; i++ {
		c.Track(sampleHit(i))
	}
	// Two full batches go at once; the last 5 hits wait for their interval (an hour) or a flush.
	eventually(t, 10*time.Second, func() string {
		if s := c.Stats(); s.Sent != 20 || s.Queued != 5 {
			return fmt.Sprintf("stats %+v, want 20 sent and 5 queued", s)
		}
		return ""
	})
	if got := hitsOfRequests(sp.seen("/api/logs/batch")); !reflect.DeepEqual(got, []int{10, 10}) {
		t.Fatalf("batch sizes %v, want [10 10]", got)
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := hitsOfRequests(sp.seen("/api/logs/batch")); !reflect.DeepEqual(got, []int{10, 10, 5}) {
		t.Fatalf("batch sizes %v, want [10 10 5]", got)
	}
	if s := c.Stats(); s.Sent != 25 || s.Queued != 0 || s.InFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
	eventually(t, 20*time.Second, func() string {
		if n, _ := st.storedHits(t, client.id); n != 25 {
			return fmt.Sprintf("%d hits stored, want 25", n)
		}
		return ""
	})
}

func TestBatchingByTime(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "batch-time")
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key, FlushAt: 500, FlushInterval: 300 * time.Millisecond})

	start := time.Now()
	for i := 0; i < 3; i++ {
		c.Track(sampleHit(i))
	}
	time.Sleep(100 * time.Millisecond)
	if s := c.Stats(); s.Sent != 0 || s.Queued != 3 {
		t.Fatalf("after 100 ms: stats %+v, want the 3 hits still queued", s)
	}
	eventually(t, 5*time.Second, func() string {
		if s := c.Stats(); s.Sent != 3 {
			return fmt.Sprintf("stats %+v, want 3 sent", s)
		}
		return ""
	})
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Fatalf("sent after %v, before the 300 ms interval", elapsed)
	}
	if got := hitsOfRequests(sp.seen("/api/logs/batch")); !reflect.DeepEqual(got, []int{3}) {
		t.Fatalf("batch sizes %v, want one batch of 3", got)
	}
	// The body is the contract's hit, event id included.
	var hit map[string]interface{}
	_ = json.Unmarshal(sp.seen("/api/logs/batch")[0].hits[0], &hit)
	for _, field := range []string{"ip", "endpoint", "timestamp", "method", "status", "event_id"} {
		if _, ok := hit[field]; !ok {
			t.Fatalf("hit %v has no %s", hit, field)
		}
	}
}

func TestBatchesAreGroupedPerKey(t *testing.T) {
	st := needStack(t)
	a, b := st.register(t, "group-a"), st.register(t, "group-b")
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: a.key, FlushAt: 8, FlushInterval: time.Hour})

	idsA, idsB := map[string]bool{}, map[string]bool{}
	for i := 0; i < 30; i++ {
		if i%3 == 0 {
			idsB[c.TrackWithKey(b.key, sampleHit(i))] = true
		} else {
			idsA[c.Track(sampleHit(i))] = true
		}
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	perKey := map[string]int{}
	for _, r := range sp.seen("/api/logs/batch") {
		want := idsA
		if r.key == b.key {
			want = idsB
		}
		for _, raw := range r.hits {
			var h struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(raw, &h)
			if !want[h.EventID] {
				t.Fatalf("hit %s went with the other client's key", h.EventID)
			}
		}
		perKey[r.key] += len(r.hits)
	}
	if perKey[a.key] != 20 || perKey[b.key] != 10 {
		t.Fatalf("hits per key %v, want 20 and 10", perKey)
	}
	eventually(t, 20*time.Second, func() string {
		na, _ := st.storedHits(t, a.id)
		nb, _ := st.storedHits(t, b.id)
		if !reflect.DeepEqual(st.storedIDs(t, a.id), idsA) || !reflect.DeepEqual(st.storedIDs(t, b.id), idsB) {
			return fmt.Sprintf("stored %d and %d hits, want exactly the 20 and 10 tracked ids", na, nb)
		}
		return ""
	})
}

// A gateway killed with SIGKILL and restarted on the same port while 20,000 hits are
// tracked: each is stored and counted exactly once.
func TestGatewayKilledMidStreamCountsEveryHitOnce(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "crash")
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: st.base, APIKey: client.key, FlushAt: 500, FlushInterval: 50 * time.Millisecond,
		MaxRetries: 100, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: 500 * time.Millisecond, Timeout: 5 * time.Second,
		OnError: log.add})

	const total = 20_000
	tracked := make(chan struct{})
	go func() {
		defer close(tracked)
		for i := 0; i < total; i++ {
			c.Track(sampleHit(i))
			if i%1000 == 999 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	eventually(t, 30*time.Second, func() string {
		if s := c.Stats(); s.Sent < 3000 {
			return fmt.Sprintf("stats %+v, waiting for 3000 sent", s)
		}
		return ""
	})
	st.call(t, map[string]interface{}{"cmd": "kill-gateway"})
	killedAt := c.Stats()
	st.call(t, map[string]interface{}{"cmd": "start-gateway"})
	<-tracked
	if err := c.Flush(ctxTimeout(t, 120*time.Second)); err != nil {
		t.Fatalf("Flush: %v (errors: %v)", err, log.all())
	}
	s := c.Stats()
	t.Logf("at the kill: %+v; at the end: %+v", killedAt, s)
	if killedAt.Sent >= total {
		t.Fatalf("the gateway was killed after every hit was sent: %+v", killedAt)
	}
	if s.Sent != total || s.Rejected != 0 || s.Dropped != 0 || s.Retried == 0 {
		t.Fatalf("stats %+v, want %d sent, none rejected or dropped, some retried", s, total)
	}
	eventually(t, 90*time.Second, func() string {
		rows, distinct := st.storedHits(t, client.id)
		if rows != total || distinct != total {
			return fmt.Sprintf("%d rows, %d distinct ids stored, want %d", rows, distinct, total)
		}
		return ""
	})
	// Counted once: the rollup the reads come from, and the read itself.
	rollup := st.sql(t, "select coalesce(sum(total), 0)::int as n from usage_daily where client_id = $1", client.id)
	if n := int(rollup[0]["n"].(float64)); n != total {
		t.Fatalf("usage_daily total %d, want %d", n, total)
	}
	daily, err := c.Daily(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("Daily: %v", err)
	}
	var sum int64
	for _, d := range daily.Data[0].Days {
		sum += d.TotalRequests
	}
	if sum != total {
		t.Fatalf("Daily says %d hits, want %d", sum, total)
	}
}
