package usage

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of failure. Every error given to Config.OnError is a *HitError whose Kind is one of
// these; errors.Is matches the kind and its family (ErrRejected or ErrDropped).
var (
	// ErrRejected is the family of hits the service (or the SDK, for a hit that can never be
	// valid) refused for good: they are counted in Stats.Rejected and never sent again.
	ErrRejected = errors.New("usage: rejected")
	// ErrInvalidHit: a hit that fails validation, locally in Track (bad IP, endpoint not
	// starting with "/", ...) or by the service (400 naming the hit's index).
	ErrInvalidHit = errors.New("usage: invalid hit")
	// ErrRateLimited: over the key's quota (429); the part of a batch that did not fit.
	ErrRateLimited = errors.New("usage: over quota")
	// ErrUnauthorized: missing, unknown or revoked API key (401), or not allowed (403).
	ErrUnauthorized = errors.New("usage: unauthorized")

	// ErrDropped is the family of hits the SDK gave up on without a verdict of the service:
	// they are counted in Stats.Dropped.
	ErrDropped = errors.New("usage: dropped")
	// ErrQueueFull: MaxQueueSize hits were already held; the new hit was not queued.
	ErrQueueFull = errors.New("usage: queue full")
	// ErrClosed: Track (or Record) after Close.
	ErrClosed = errors.New("usage: client closed")
	// ErrRetriesExhausted: MaxRetries retries failed (network errors, timeouts, 408, 5xx).
	ErrRetriesExhausted = errors.New("usage: retries exhausted")
	// ErrDeadline: the context of Flush or Close ended while the hit was still held.
	ErrDeadline = errors.New("usage: flush deadline")
)

var rejectedKinds = map[error]bool{ErrRejected: true, ErrInvalidHit: true, ErrRateLimited: true, ErrUnauthorized: true}

// HitError reports hits that were rejected or dropped. Errors of the same kind and cause
// that happen in a burst (a full queue) are merged into one with their total Count.
type HitError struct {
	Kind  error // ErrInvalidHit, ErrRateLimited, ErrUnauthorized, ErrRejected, ErrQueueFull, ErrClosed, ErrRetriesExhausted or ErrDeadline
	Count int   // hits concerned
	// EventIDs of the hits concerned (at most the first 1000 of a merged error).
	EventIDs []string
	// Key is the API key the hits were sent with, masked ("uk_…wxyz").
	Key        string
	StatusCode int    // HTTP status of the service's answer, 0 when there was none
	Code       string // the contract's error code (VALIDATION_ERROR, RATE_LIMITED, ...)
	Message    string // the service's message, or the SDK's reason
	Err        error  // underlying cause (network error, context error), if any
}

func (e *HitError) Error() string {
	var b strings.Builder
	verb := "dropped"
	if rejectedKinds[e.Kind] {
		verb = "rejected"
	}
	fmt.Fprintf(&b, "usage: %d hit", e.Count)
	if e.Count != 1 {
		b.WriteByte('s')
	}
	fmt.Fprintf(&b, " %s (%s)", verb, strings.TrimPrefix(e.Kind.Error(), "usage: "))
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d", e.StatusCode)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *HitError) Unwrap() error { return e.Err }

// Is matches the error's Kind and its family: ErrRejected or ErrDropped.
func (e *HitError) Is(target error) bool {
	switch target {
	case e.Kind:
		return true
	case ErrRejected:
		return rejectedKinds[e.Kind]
	case ErrDropped:
		return !rejectedKinds[e.Kind]
	}
	return false
}

// APIError is an error answer of the service to a synchronous call (Record, Daily, Top).
type APIError struct {
	StatusCode int
	Code       string // VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, ...
	Message    string
	RetryAfter time.Duration // from retry-after, when the answer had one
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("usage: service answered %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("usage: service answered %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Is lets errors.Is(err, ErrUnauthorized) and errors.Is(err, ErrInvalidHit) work on answers.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == 401 || e.StatusCode == 403
	case ErrInvalidHit:
		return e.StatusCode == 400
	case ErrRateLimited:
		return e.StatusCode == 429
	}
	return false
}

// FlushError is what Flush and Close return when not every hit they waited for was
// acknowledged: how many were sent, rejected and dropped, and the context's error when the
// deadline cut the wait short. errors.Is(err, ErrRejected), errors.Is(err, ErrDropped) and
// errors.Is(err, context.DeadlineExceeded) all work on it.
type FlushError struct {
	Sent, Rejected, Dropped int64
	Err                     error // ctx.Err() when the deadline passed, else nil
}

func (e *FlushError) Error() string {
	msg := fmt.Sprintf("usage: flush: %d sent, %d rejected, %d dropped", e.Sent, e.Rejected, e.Dropped)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *FlushError) Unwrap() error { return e.Err }

func (e *FlushError) Is(target error) bool {
	return (target == ErrRejected && e.Rejected > 0) || (target == ErrDropped && e.Dropped > 0) || (target == ErrDeadline && e.Err != nil)
}

// maskKey keeps the prefix and the last four characters of a key, for error reports.
func maskKey(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	prefix := ""
	if i := strings.IndexByte(key, '_'); i >= 0 && i < 4 {
		prefix = key[:i+1]
	}
	return prefix + "…" + key[len(key)-4:]
}
