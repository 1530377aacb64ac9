// Command usage-bench measures the Go SDK for loadtest/sdk-bench.ts, which runs it beside
// autocannon against the same gateway: `deliver` feeds one client for a number of seconds
// and prints the hits acknowledged; `track` prints what one Track call costs when nothing is
// sent. One JSON object on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	usage "github.com/usage-metering/sdk-go"
)

func main() {
	mode := flag.String("mode", "deliver", "deliver | track")
	url := flag.String("url", "http://127.0.0.1:3000", "gateway base URL")
	key := flag.String("key", "", "API key")
	seconds := flag.Float64("seconds", 3, "deliver: how long to feed the client")
	inFlight := flag.Int("in-flight", 8, "deliver: batch requests in flight")
	calls := flag.Int("calls", 1_000_000, "track: Track calls to time")
	flag.Parse()

	var out interface{}
	var err error
	switch *mode {
	case "deliver":
		out, err = deliver(*url, *key, time.Duration(*seconds*float64(time.Second)), *inFlight)
	case "track":
		out, err = track(*calls)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage-bench:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

var hit = usage.Hit{Endpoint: "/v1/orders/:id", IP: "203.0.113.7", Method: "GET", Status: 200}

// deliver keeps the client's buffer topped up (never more than two batches per request in
// flight, as sdk-bench's TypeScript feeder does) and counts the hits acknowledged in time.
func deliver(url, key string, d time.Duration, inFlight int) (map[string]float64, error) {
	var failures int64
	c, err := usage.New(usage.Config{BaseURL: url, APIKey: key, FlushAt: 500, MaxInFlight: inFlight, MaxQueueSize: 1_000_000,
		OnError: func(error) { atomic.AddInt64(&failures, 1) }})
	if err != nil {
		return nil, err
	}
	limit := int64(2 * inFlight * 500)
	start := time.Now()
	for time.Since(start) < d {
		s := c.Stats()
		if s.Queued+s.InFlight < limit {
			for i := 0; i < 500; i++ {
				c.Track(hit)
			}
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	sent := c.Stats().Sent
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		return nil, err
	}
	return map[string]float64{"hitsPerSecond": float64(sent) / d.Seconds(), "errors": float64(atomic.LoadInt64(&failures))}, nil
}

// track times Track into a client whose requests never complete, so nothing is sent.
func track(calls int) (map[string]float64, error) {
	stalled := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})}
	c, err := usage.New(usage.Config{BaseURL: "http://127.0.0.1:9", APIKey: "uk_bench", MaxQueueSize: calls + 1, HTTPClient: stalled,
		OnError: func(error) {}})
	if err != nil {
		return nil, err
	}
	for i := 0; i < 10_000; i++ {
		c.Track(hit)
	}
	start := time.Now()
	for i := 0; i < calls; i++ {
		c.Track(hit)
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(calls)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
	return map[string]float64{"nsPerCall": ns}, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
