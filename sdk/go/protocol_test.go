package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A 413 halves the batch until the halves fit, against a gateway with a 4 KiB body limit;
// later batches are cut to the size that went through.
func TestPayloadTooLargeHalvesTheBatch(t *testing.T) {
	st := needStack(t)
	small := st.call(t, map[string]interface{}{"cmd": "spawn-gateway", "env": map[string]string{"BODY_LIMIT_BYTES": "4096"}})
	client := st.register(t, "too-large")
	sp := newSpy(t, small["base"].(string))
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key, FlushAt: 100, FlushInterval: time.Hour})

	for i := 0; i < 60; i++ {
		c.Track(sampleHit(i))
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	first := sp.seen("/api/logs/batch")
	if len(first) < 3 || first[0].status != 413 || len(first[0].hits) != 60 {
		t.Fatalf("requests %v with statuses %v, want 60 hits refused with 413, then halves", hitsOfRequests(first), statusesOf(first))
	}
	sent := 0
	for _, r := range first {
		if r.status == 202 {
			sent += len(r.hits)
		}
	}
	if sent != 60 || c.Stats().Sent != 60 {
		t.Fatalf("%d hits accepted in %v (statuses %v), want all 60", sent, hitsOfRequests(first), statusesOf(first))
	}
	for i := 0; i < 60; i++ {
		c.Track(sampleHit(i))
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	for _, r := range sp.seen("/api/logs/batch")[len(first):] {
		if r.status != 202 {
			t.Fatalf("after the limit was learned, a batch of %d got %d", len(r.hits), r.status)
		}
	}
	eventually(t, 20*time.Second, func() string {
		if n, _ := st.storedHits(t, client.id); n != 120 {
			return fmt.Sprintf("%d hits stored, want 120", n)
		}
		return ""
	})
}

// fakeService answers batch requests with a script of statuses, then 202.
type fakeService struct {
	*httptest.Server
	mu       sync.Mutex
	script   []func(w http.ResponseWriter) bool // true: answered
	times    []time.Time
	ids      map[string]int
	hits     []json.RawMessage
	requests int
}

func newFake(t *testing.T, script ...func(w http.ResponseWriter) bool) *fakeService {
	f := &fakeService{script: script, ids: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests++
		f.times = append(f.times, time.Now())
		var step func(w http.ResponseWriter) bool
		if len(f.script) > 0 {
			step, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		if step != nil && step(w) {
			return
		}
		var b struct {
			Hits []json.RawMessage `json:"hits"`
		}
		_ = json.Unmarshal(body, &b)
		f.mu.Lock()
		for _, raw := range b.Hits {
			var h struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(raw, &h)
			f.ids[h.EventID]++
			f.hits = append(f.hits, raw)
		}
		f.mu.Unlock()
		w.WriteHeader(202)
		_, _ = fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"ids":[]}`, len(b.Hits))
	}))
	t.Cleanup(f.Close)
	return f
}

func status(code int, headers ...string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"statusCode":%d,"code":"X","error":"x","message":"scripted"}`, code)
		return true
	}
}

// stall answers 504 after d, when the client has given up on the request.
func stall(d time.Duration) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool { time.Sleep(d); return status(504)(w) }
}

func TestServiceUnavailableHonoursRetryAfter(t *testing.T) {
	f := newFake(t, status(503, "Retry-After", "1"))
	c := newClient(t, Config{BaseURL: f.URL, APIKey: "uk_k", RetryBaseDelay: time.Millisecond})
	c.Track(sampleHit(0))
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests != 2 || f.times[1].Sub(f.times[0]) < time.Second {
		t.Fatalf("%d requests, %v apart: want a retry after the 1 s retry-after", f.requests, f.times[1].Sub(f.times[0]))
	}
	if s := c.Stats(); s.Sent != 1 || s.Retried != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryableFailuresAreRetriedWithTheSameEventIDs(t *testing.T) {
	f := newFake(t, status(500), status(408), stall(300*time.Millisecond), status(502))
	c := newClient(t, Config{BaseURL: f.URL, APIKey: "uk_k", Timeout: 100 * time.Millisecond, RetryBaseDelay: time.Millisecond})
	ids := map[string]bool{}
	for i := 0; i < 5; i++ {
		ids[c.Track(sampleHit(i))] = true
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if s := c.Stats(); s.Sent != 5 || s.Retried != 20 {
		t.Fatalf("stats %+v, want 5 sent after 4 retries of 5 hits", s)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.ids {
		if !ids[id] || n != 1 {
			t.Fatalf("id %s accepted %d times", id, n)
		}
	}
}

func TestRetriesExhaustedDropsTheBatch(t *testing.T) {
	f := newFake(t, status(500), status(500), status(500), status(500))
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: f.URL, APIKey: "uk_k", MaxRetries: 2, RetryBaseDelay: time.Millisecond, OnError: log.add})
	for i := 0; i < 3; i++ {
		c.Track(sampleHit(i))
	}
	err := c.Flush(ctxTimeout(t, 10*time.Second))
	var fe *FlushError
	if !errors.As(err, &fe) || fe.Dropped != 3 || fe.Err != nil {
		t.Fatalf("Flush: %v, want 3 dropped", err)
	}
	eventually(t, 5*time.Second, func() string {
		reported, n := log.hitErrors(ErrRetriesExhausted)
		if n != 3 || reported[0].StatusCode != 500 || !errors.Is(reported[0], ErrDropped) {
			return fmt.Sprintf("reported %v", log.all())
		}
		return ""
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests != 3 {
		t.Fatalf("%d requests, want 1 + 2 retries", f.requests)
	}
}

// Many goroutines tracking under three keys while others flush: every hit is delivered
// once and the counters add up at every moment.
func TestConcurrentTrackAndFlush(t *testing.T) {
	f := newFake(t)
	c := newClient(t, Config{BaseURL: f.URL, APIKey: "uk_a", FlushAt: 50, FlushInterval: 5 * time.Millisecond, MaxInFlight: 3})
	const goroutines, each = 8, 2000
	var tracked int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := c.Stats()
			if sum := s.Queued + s.InFlight + s.Sent + s.Rejected + s.Dropped; sum > atomic.LoadInt64(&tracked) {
				t.Errorf("stats %+v add up to %d, more than the %d tracked", s, sum, atomic.LoadInt64(&tracked))
				return
			}
			_ = c.Flush(context.Background())
		}
	}()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := []string{"uk_a", "uk_b", "uk_c"}[g%3]
			for i := 0; i < each; i++ {
				atomic.AddInt64(&tracked, 1)
				c.TrackWithKey(key, sampleHit(i))
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	if err := c.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := c.Stats(); s.Sent != goroutines*each || s.Queued+s.InFlight+s.Dropped+s.Rejected != 0 {
		t.Fatalf("stats %+v", s)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ids) != goroutines*each {
		t.Fatalf("%d distinct ids delivered, want %d", len(f.ids), goroutines*each)
	}
}

func TestTrackRejectsHitsThatCanNeverBeValid(t *testing.T) {
	f := newFake(t)
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: f.URL, APIKey: "uk_k", OnError: log.add})
	bad := []Hit{
		{Endpoint: "/x", IP: "300.1.1.1"},
		{Endpoint: "/x", IP: "fe80::1%eth0"},
		{Endpoint: "v1/orders", IP: "203.0.113.7"},
		{Endpoint: "", IP: "203.0.113.7"},
		{Endpoint: "/a\x00b", IP: "203.0.113.7"},
		{Endpoint: "/" + strings.Repeat("é", 2048), IP: "203.0.113.7"},
		{Endpoint: "/x", IP: "203.0.113.7", Method: "FETCH"},
		{Endpoint: "/x", IP: "203.0.113.7", Status: 600},
		{Endpoint: "/x", IP: "203.0.113.7", EventID: "not-a-uuid"},
	}
	for _, h := range bad {
		if id := c.Track(h); !isUUID(id) {
			t.Fatalf("Track(%+v) returned %q, want an event id", h, id)
		}
	}
	c.TrackWithKey("", sampleHit(0))
	if s := c.Stats(); s.Rejected != int64(len(bad))+1 || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
	eventually(t, 5*time.Second, func() string {
		if _, n := log.hitErrors(ErrInvalidHit); n != len(bad) {
			return fmt.Sprintf("%d invalid hits reported, want %d", n, len(bad))
		}
		if _, n := log.hitErrors(ErrUnauthorized); n != 1 {
			return "the hit without a key was not reported"
		}
		return ""
	})
	good := []Hit{
		{Endpoint: "/x", IP: "::ffff:203.0.113.7", Method: "get"},
		{Endpoint: "/" + strings.Repeat("é", 2047), IP: "2001:db8::1", Status: 599},
		{Endpoint: "/x", IP: "203.0.113.7", EventID: "0B7E2C1A-9F4D-4E8B-A1C2-3D4E5F607182"},
	}
	for _, h := range good {
		c.Track(h)
	}
	if id := c.Track(good[2]); id != "0b7e2c1a-9f4d-4e8b-a1c2-3d4e5f607182" {
		t.Fatalf("own event id came back as %q, want it lower-cased", id)
	}
	if err := c.Flush(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if s := c.Stats(); s.Sent != 4 {
		t.Fatalf("stats %+v, want the valid hits sent", s)
	}
}

func TestHitEncoding(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("x", 3600))
	for _, s := range []string{"/plain", `/q"uote\back`, "/ctl\x01\x1f\n\r\t", "/ünï/日本/🙂", "/bad\xff\xfeutf8", "/<script>&"} {
		h := Hit{Endpoint: s, IP: "203.0.113.7", Method: "GET", Status: 201, Timestamp: ts}
		var id [36]byte
		newUUID(&id)
		out := appendHit(nil, &h, "GET", ts, &id)
		var back map[string]interface{}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, out, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD\uFFFD")
		if strings.Contains(s, "\xff") {
			want = strings.ReplaceAll(s, "\xff\xfe", "\uFFFD\uFFFD")
		}
		if back["endpoint"] != want || back["timestamp"] != "2026-03-04T04:06:07.891Z" || back["status"] != 201.0 ||
			back["event_id"] != string(id[:]) || back["ip"] != "203.0.113.7" || back["method"] != "GET" {
			t.Fatalf("%q round-trips as %v", s, back)
		}
	}
}

func TestNewUUIDIsVersion4AndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 20_000; i++ {
		var id [36]byte
		newUUID(&id)
		s := string(id[:])
		if !isUUID(s) || s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) || seen[s] {
			t.Fatalf("bad or repeated id %s", s)
		}
		seen[s] = true
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{{}, {BaseURL: "ftp://x"}, {BaseURL: "http://x", FlushAt: 1001}, {BaseURL: "http://x", Timeout: -1}} {
		if _, err := New(cfg); err == nil {
			t.Fatalf("New(%+v) accepted", cfg)
		}
	}
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if c.cfg.FlushAt != 500 || c.cfg.FlushInterval != time.Second || c.cfg.MaxQueueSize != 100_000 || c.cfg.MaxRetries != 10 ||
		c.cfg.Timeout != 10*time.Second || c.cfg.MaxBatchBytes != 512<<10 || c.cfg.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("defaults %+v", c.cfg)
	}
}
