package usage

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestThroughput reports the hits per second one client delivers to a real gateway: N hits
// tracked as fast as possible, then Flush, timed from the first Track to the last 202.
// USAGE_THROUGHPUT_HITS sets N (default 50,000), USAGE_THROUGHPUT_FLUSH_AT and
// USAGE_THROUGHPUT_IN_FLIGHT the client's FlushAt and MaxInFlight (defaults 500 and 4).
// Without -race for a real figure:
//
//	go test -run TestThroughput -v -count=1
func TestThroughput(t *testing.T) {
	st := needStack(t)
	setting := func(name string, fallback int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return fallback
	}
	n := setting("USAGE_THROUGHPUT_HITS", 50_000)
	client := st.register(t, "throughput")
	c := newClient(t, Config{BaseURL: st.base, APIKey: client.key, FlushAt: setting("USAGE_THROUGHPUT_FLUSH_AT", 500),
		MaxInFlight: setting("USAGE_THROUGHPUT_IN_FLIGHT", 4)})
	hit := sampleHit(0)
	start := time.Now()
	for i := 0; i < n; i++ {
		c.Track(hit)
	}
	tracked := time.Since(start)
	if err := c.Flush(ctxTimeout(t, 5*time.Minute)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	elapsed := time.Since(start)
	if s := c.Stats(); s.Sent != int64(n) {
		t.Fatalf("stats %+v, want %d sent", s, n)
	}
	race := ""
	if raceEnabled {
		race = " (race detector on: slower than a real build)"
	}
	t.Logf("FlushAt %d, MaxInFlight %d: %d hits delivered in %v: %.0f hits/s; Track took %v in all (%.0f ns per call)%s",
		c.cfg.FlushAt, c.cfg.MaxInFlight, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), tracked.Round(time.Millisecond),
		float64(tracked.Nanoseconds())/float64(n), race)
}

// BenchmarkTrack is the cost of one Track call (validation, id, encoding, queueing) with
// the batches delivered to an in-process server that answers 202 at once.
func BenchmarkTrack(b *testing.B) {
	c := benchClient(b)
	hit := Hit{Endpoint: "/v1/orders/:id", IP: "203.0.113.7", Method: "GET", Status: 200}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Track(hit)
	}
	b.StopTimer()
	reportDrops(b, c)
}

// BenchmarkTrackParallel is Track from GOMAXPROCS goroutines at once.
func BenchmarkTrackParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hit := Hit{Endpoint: "/v1/orders/:id", IP: "203.0.113.7", Method: "GET", Status: 200}
		for pb.Next() {
			c.Track(hit)
		}
	})
	b.StopTimer()
	reportDrops(b, c)
}

func benchClient(b *testing.B) *Client {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(202)
		_, _ = io.WriteString(w, `{"accepted":0,"duplicates":0,"ids":[]}`)
	}))
	b.Cleanup(server.Close)
	c, err := New(Config{BaseURL: server.URL, APIKey: "uk_bench", MaxQueueSize: 1 << 22})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(ctxTimeout(b, time.Minute)) })
	return c
}

func reportDrops(b *testing.B, c *Client) {
	if s := c.Stats(); s.Dropped > 0 {
		b.ReportMetric(float64(s.Dropped)/float64(b.N), "dropped/op")
		fmt.Fprintf(os.Stderr, "note: %d of %d hits dropped (queue full): Track outran delivery\n", s.Dropped, b.N)
	}
}
