package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// RecordResult is the service's verdict on one hit sent by Record.
type RecordResult struct {
	Accepted  bool   // counted now (or before: see Duplicate); false when over quota
	Duplicate bool   // the service already had this event id: counted once, earlier
	ID        string // the hit's event id
	// Limit, Remaining and ResetSeconds are the key's quota after this hit (from the
	// x-ratelimit-* headers): hits per hour, hits left, seconds until the quota resets.
	Limit        int
	Remaining    int
	ResetSeconds int
}

// quotaCache remembers, per key, until when the service said the quota is spent, so Record
// answers without a request until then.
type quotaCache struct {
	mu      sync.Mutex
	blocked map[string]blockedKey
}

type blockedKey struct {
	until time.Time
	limit int
}

func (q *quotaCache) get(key string, now time.Time) (blockedKey, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, ok := q.blocked[key]
	if ok && !now.Before(b.until) {
		delete(q.blocked, key)
		return b, false
	}
	return b, ok
}

func (q *quotaCache) set(key string, b blockedKey) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.blocked == nil {
		q.blocked = make(map[string]blockedKey)
	}
	q.blocked[key] = b
}

// Record checks and counts one hit now, under the default API key: one POST /api/logs
// carrying the hit's event id, retried like a batch (so it counts once). Over quota it
// returns Accepted false and no error, and until the reset the service reported it answers
// the same for that key without a request. Errors: an invalid hit (ErrInvalidHit), an
// *APIError for a refusal (400, 401, 403, ...), ErrRetriesExhausted wrapping the last
// failure, ctx's error, or ErrClosed after Close. Record does not count in Stats.
func (c *Client) Record(ctx context.Context, h Hit) (RecordResult, error) {
	if c == nil {
		return RecordResult{}, ErrClosed
	}
	return c.RecordWithKey(ctx, c.cfg.APIKey, h)
}

// RecordWithKey is Record under another API key.
func (c *Client) RecordWithKey(ctx context.Context, key string, h Hit) (RecordResult, error) {
	if c == nil {
		return RecordResult{}, ErrClosed
	}
	var id [36]byte
	eventIDOf(&h, &id)
	result := RecordResult{ID: string(id[:])}
	method, reason := checkHit(&h)
	if reason != "" {
		return result, fmt.Errorf("%w: %s", ErrInvalidHit, reason)
	}
	if key == "" {
		return result, fmt.Errorf("%w: no API key", ErrUnauthorized)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return result, ErrClosed
	}
	now := time.Now()
	if b, ok := c.quota.get(key, now); ok {
		result.Limit = b.limit
		result.ResetSeconds = ceilSeconds(b.until.Sub(now))
		return result, nil
	}
	ts := h.Timestamp
	if ts.IsZero() {
		ts = now
	}
	body := appendHit(make([]byte, 0, 256), &h, method, ts, &id)

	ans, err := c.withRetries(ctx, func() answer { return c.post(ctx, "/api/logs", key, body) })
	if err != nil {
		return result, err
	}
	result.Limit, _ = ans.intHeader("x-ratelimit-limit")
	result.Remaining, _ = ans.intHeader("x-ratelimit-remaining")
	result.ResetSeconds, _ = ans.intHeader("x-ratelimit-reset")
	switch {
	case ans.status >= 200 && ans.status < 300:
		var accepted struct {
			ID        string `json:"id"`
			Duplicate bool   `json:"duplicate"`
		}
		if err := json.Unmarshal(ans.body, &accepted); err != nil {
			return result, fmt.Errorf("usage: unreadable answer to POST /api/logs: %w", err)
		}
		result.Accepted = true
		result.Duplicate = accepted.Duplicate
		if accepted.ID != "" {
			result.ID = accepted.ID
		}
		return result, nil
	case ans.status == http.StatusTooManyRequests:
		reset := parseRetryAfter(ans.header.Get("retry-after"))
		if s := time.Duration(result.ResetSeconds) * time.Second; s > reset {
			reset = s
		}
		if reset <= 0 {
			reset = time.Second
		}
		result.Remaining = 0
		result.ResetSeconds = ceilSeconds(reset)
		c.quota.set(key, blockedKey{until: now.Add(reset), limit: result.Limit})
		return result, nil
	default:
		return result, ans.apiError()
	}
}

// withRetries runs one request until it gets an answer that a retry cannot change, within
// MaxRetries and ctx.
func (c *Client) withRetries(ctx context.Context, do func() answer) (answer, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return answer{}, err
		}
		ans := do()
		if !retryable(ans) {
			return ans, nil
		}
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		if attempt >= c.cfg.MaxRetries {
			cause := ans.err
			if cause == nil {
				cause = ans.apiError()
			}
			return answer{}, fmt.Errorf("%w: %v", ErrRetriesExhausted, cause)
		}
		if !sleep(ctx, c.backoff(attempt+1, ans.retryAfter())) {
			return answer{}, ctx.Err()
		}
	}
}

func (a answer) apiError() *APIError {
	e := a.parsedError()
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(a.status)
	}
	var retryAfter time.Duration
	if a.header != nil {
		retryAfter = parseRetryAfter(a.header.Get("retry-after"))
	}
	return &APIError{StatusCode: a.status, Code: e.Code, Message: msg, RetryAfter: retryAfter}
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
