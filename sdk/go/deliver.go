package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

const userAgent = "usage-sdk-go/1.0"

// piece is a part of a batch still to send, with the retries it has used.
type piece struct {
	hits     []hitRec
	attempts int
}

// deliver sends a batch until each of its hits is settled: sent, rejected or dropped.
// A 413 halves it, a 429 keeps the part that fits the quota, a 400 naming an index drops
// that hit; what is left is sent again at once. Failures that a retry can cure wait with
// backoff.
func (c *Client) deliver(b *batch) {
	stack := []piece{{hits: b.hits}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := b.ctx.Err(); err != nil {
			c.drop(b.key, p.hits, ErrDeadline, 0, "", "Flush or Close deadline passed before the batch was acknowledged", err)
			continue
		}
		ans := c.post(b.ctx, "/api/logs/batch", b.key, batchBody(p.hits))
		switch {
		case ans.err == nil && ans.status >= 200 && ans.status < 300:
			var body struct {
				Duplicates int64 `json:"duplicates"`
			}
			_ = json.Unmarshal(ans.body, &body)
			c.settle(p.hits, outSent, body.Duplicates)

		case ans.err != nil && b.ctx.Err() != nil:
			// Cancelled by a Flush or Close deadline: the request may or may not have
			// arrived; the event ids make sure a later copy never counts twice.
			c.drop(b.key, p.hits, ErrDeadline, 0, "", "Flush or Close deadline passed before the batch was acknowledged", b.ctx.Err())

		case retryable(ans):
			if p.attempts >= c.cfg.MaxRetries {
				c.drop(b.key, p.hits, ErrRetriesExhausted, ans.status, ans.code(), ans.failure(), ans.err)
				continue
			}
			p.attempts++
			c.addRetried(len(p.hits))
			if !sleep(b.ctx, c.backoff(p.attempts, ans.retryAfter())) {
				c.drop(b.key, p.hits, ErrDeadline, ans.status, ans.code(), "Flush or Close deadline passed while waiting to retry", b.ctx.Err())
				continue
			}
			stack = append(stack, p)

		case ans.status == http.StatusRequestEntityTooLarge:
			if len(p.hits) == 1 {
				c.reject(b.key, p.hits, ErrInvalidHit, ans, "the hit alone is over the service's body limit")
				continue
			}
			c.lowerMaxBytes(len(batchBody(p.hits)) / 2)
			half := len(p.hits) / 2
			stack = append(stack, piece{hits: p.hits[half:], attempts: p.attempts}, piece{hits: p.hits[:half], attempts: p.attempts})

		case ans.status == http.StatusTooManyRequests:
			remaining, known := ans.intHeader("x-ratelimit-remaining")
			switch {
			case known && remaining >= len(p.hits):
				// The quota moved (a new hour began): the whole piece fits now. Counted as a
				// retry so a service that keeps saying so cannot loop us.
				if p.attempts >= c.cfg.MaxRetries {
					c.drop(b.key, p.hits, ErrRetriesExhausted, ans.status, ans.code(), ans.failure(), nil)
					continue
				}
				p.attempts++
				c.addRetried(len(p.hits))
				stack = append(stack, p)
			case known && remaining > 0:
				c.reject(b.key, p.hits[remaining:], ErrRateLimited, ans, "")
				stack = append(stack, piece{hits: p.hits[:remaining], attempts: p.attempts})
			default:
				c.reject(b.key, p.hits, ErrRateLimited, ans, "")
			}

		case ans.status == http.StatusBadRequest:
			if i, ok := ans.hitIndex(); ok && i < len(p.hits) {
				c.reject(b.key, p.hits[i:i+1], ErrInvalidHit, ans, "")
				rest := make([]hitRec, 0, len(p.hits)-1)
				rest = append(append(rest, p.hits[:i]...), p.hits[i+1:]...)
				if len(rest) > 0 {
					stack = append(stack, piece{hits: rest, attempts: p.attempts})
				}
				continue
			}
			c.reject(b.key, p.hits, ErrInvalidHit, ans, "")

		case ans.status == http.StatusUnauthorized || ans.status == http.StatusForbidden:
			c.reject(b.key, p.hits, ErrUnauthorized, ans, "")

		default:
			c.reject(b.key, p.hits, ErrRejected, ans, "")
		}
	}
}

func (c *Client) reject(key string, hits []hitRec, kind error, ans answer, message string) {
	if message == "" {
		message = ans.message()
	}
	c.settle(hits, outRejected, 0)
	c.reporter.report(hitError(kind, key, hits, ans.status, ans.code(), message, nil))
}

func (c *Client) drop(key string, hits []hitRec, kind error, status int, code, message string, cause error) {
	c.settle(hits, outDropped, 0)
	c.reporter.report(hitError(kind, key, hits, status, code, message, cause))
}

// lowerMaxBytes makes later batches fit the limit a 413 revealed.
func (c *Client) lowerMaxBytes(n int) {
	if n < 1024 {
		n = 1024
	}
	c.mu.Lock()
	if n < c.maxBytes {
		c.maxBytes = n
	}
	c.mu.Unlock()
}

func batchBody(hits []hitRec) []byte {
	size := batchOverhead + len(hits)
	for i := range hits {
		size += len(hits[i].body)
	}
	body := make([]byte, 0, size)
	body = append(body, `{"hits":[`...)
	for i := range hits {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, hits[i].body...)
	}
	return append(body, `]}`...)
}

// answer is the outcome of one HTTP request: a response or an error.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

const maxAnswerBytes = 4 << 20

// post sends one JSON body with the key in x-api-key, within Timeout.
func (c *Client) post(ctx context.Context, path, key string, body []byte) answer {
	return c.roundTrip(ctx, http.MethodPost, path, body, func(h http.Header) { h.Set("x-api-key", key) })
}

func (c *Client) roundTrip(ctx context.Context, method, path string, body []byte, headers func(http.Header)) answer {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, reader)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	req.Header.Set("user-agent", userAgent)
	headers(req.Header)
	res, err := c.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		// The status arrived but the body did not: the outcome is unknown, like a network error.
		return answer{err: fmt.Errorf("reading the %d answer: %w", res.StatusCode, err)}
	}
	return answer{status: res.StatusCode, header: res.Header, body: data}
}

// retryable: network errors, timeouts, 408 and 5xx; the event ids make a repeat harmless.
func retryable(a answer) bool {
	return a.err != nil || a.status == http.StatusRequestTimeout || a.status >= 500
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (a answer) parsedError() errorBody {
	var e errorBody
	if len(a.body) > 0 {
		_ = json.Unmarshal(a.body, &e)
	}
	return e
}

func (a answer) code() string { return a.parsedError().Code }

func (a answer) message() string {
	if m := a.parsedError().Message; m != "" {
		return m
	}
	return http.StatusText(a.status)
}

// failure describes a failed attempt for a report.
func (a answer) failure() string {
	if a.err != nil {
		return "request failed"
	}
	return a.message()
}

func (a answer) intHeader(name string) (int, bool) {
	if a.header == nil {
		return 0, false
	}
	v, err := strconv.Atoi(a.header.Get(name))
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// retryAfter is the retry-after header of a 503 (seconds or an HTTP date).
func (a answer) retryAfter() time.Duration {
	if a.status != http.StatusServiceUnavailable || a.header == nil {
		return 0
	}
	return parseRetryAfter(a.header.Get("retry-after"))
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

var hitIndexPattern = regexp.MustCompile(`body/hits/(\d+)`)

// hitIndex is the index a 400's message names ("body/hits/3/ip must match format ...").
func (a answer) hitIndex() (int, bool) {
	m := hitIndexPattern.FindStringSubmatch(a.parsedError().Message)
	if m == nil {
		return 0, false
	}
	i, err := strconv.Atoi(m[1])
	return i, err == nil
}

var jitter = struct {
	sync.Mutex
	*rand.Rand
}{Rand: rand.New(rand.NewSource(seed()))}

func seed() int64 {
	var id [36]byte
	newUUID(&id)
	var s int64
	for _, b := range id {
		s = s*31 + int64(b)
	}
	return s ^ time.Now().UnixNano()
}

// backoff is exponential with full jitter; a retry-after the service gave is honoured.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := c.cfg.RetryMaxDelay
	if attempt < 32 {
		if d := c.cfg.RetryBaseDelay << uint(attempt-1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	jitter.Lock()
	d := time.Duration(jitter.Int63n(int64(ceiling) + 1))
	jitter.Unlock()
	if retryAfter > d {
		d = retryAfter
	}
	if d > c.cfg.RetryMaxDelay {
		d = c.cfg.RetryMaxDelay
	}
	return d
}

// sleep waits d, or less when ctx ends (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
