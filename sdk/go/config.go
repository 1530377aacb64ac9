package usage

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. Zero values take the defaults shown.
type Config struct {
	// BaseURL of the service, e.g. "http://127.0.0.1:3000". Required.
	BaseURL string
	// APIKey is the default key: Track, Record, Daily and Top use it. TrackWithKey and
	// RecordWithKey name another. May be empty when every call names its key.
	APIKey string
	// FlushAt is the number of hits per batch request, 1..1000. Default 500.
	FlushAt int
	// FlushInterval is the longest a hit waits in the buffer before its batch is sent. Default 1s.
	FlushInterval time.Duration
	// MaxQueueSize bounds the hits held in memory (buffered and in flight); beyond it new
	// hits are dropped and reported. Default 100000.
	MaxQueueSize int
	// MaxRetries per batch (and per Record, Daily, Top call), then the batch is dropped.
	// Default 10; a negative value means no retry.
	MaxRetries int
	// Timeout of each HTTP request. Default 10s.
	Timeout time.Duration
	// OnError receives every drop and every failure, as a *HitError for tracked hits. It is
	// called from a goroutine of the client, one call at a time, never while a lock is held;
	// a panic in it is recovered. Nil ignores them (Stats still counts them).
	OnError func(error)
	// MaxBatchBytes keeps each batch body under the gateway's body limit. Default 512 KiB.
	// A 413 answer halves the batch and lowers this limit for the client's later batches.
	MaxBatchBytes int
	// MaxInFlight is the number of batch requests in flight at once. Default 4.
	MaxInFlight int
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff with full jitter:
	// the n-th retry waits a random time in [0, min(RetryMaxDelay, RetryBaseDelay·2^(n-1))].
	// Defaults 100ms and 10s. A 503's retry-after is honoured (up to RetryMaxDelay).
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// HTTPClient sends the requests. Default: a client of its own with keep-alive
	// connections (its Timeout should be 0: Timeout above applies per request).
	HTTPClient *http.Client
}

const (
	maxFlushAt           = 1000
	defaultFlushAt       = 500
	defaultFlushInterval = time.Second
	defaultMaxQueueSize  = 100_000
	defaultMaxRetries    = 10
	defaultTimeout       = 10 * time.Second
	defaultMaxBatchBytes = 512 << 10
	defaultMaxInFlight   = 4
	defaultRetryBase     = 100 * time.Millisecond
	defaultRetryMax      = 10 * time.Second
)

// resolve validates the configuration and fills in the defaults.
func (c Config) resolve() (Config, error) {
	if c.BaseURL == "" {
		return c, errors.New("usage: Config.BaseURL is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("usage: Config.BaseURL must be an http or https URL (got %q)", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.FlushAt < 0 || c.FlushAt > maxFlushAt {
		return c, fmt.Errorf("usage: Config.FlushAt must be within 1..%d (got %d)", maxFlushAt, c.FlushAt)
	}
	if c.FlushInterval < 0 || c.MaxQueueSize < 0 || c.Timeout < 0 || c.MaxBatchBytes < 0 || c.MaxInFlight < 0 ||
		c.RetryBaseDelay < 0 || c.RetryMaxDelay < 0 {
		return c, errors.New("usage: Config durations and sizes must not be negative")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.FlushAt, defaultFlushAt)
	def(&c.MaxQueueSize, defaultMaxQueueSize)
	def(&c.MaxBatchBytes, defaultMaxBatchBytes)
	def(&c.MaxInFlight, defaultMaxInFlight)
	defDur(&c.FlushInterval, defaultFlushInterval)
	defDur(&c.Timeout, defaultTimeout)
	defDur(&c.RetryBaseDelay, defaultRetryBase)
	defDur(&c.RetryMaxDelay, defaultRetryMax)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = defaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c, nil
}
