package usage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// APIKey returns the metering key of the request's caller; "" passes the request through
	// untracked. Required.
	APIKey func(*http.Request) string
	// Enforce checks the caller's quota with Record before the handler runs and answers 429
	// (with retry-after) to a caller over its quota. The hit is then counted by that Record,
	// before the handler, so it carries no status.
	Enforce bool
	// Route returns the route pattern to record ("/v1/orders/:id"); "" means the path.
	// Go 1.19's ServeMux has no patterns, so the default is the request's path: supply the
	// pattern from your router, or every order id becomes an endpoint of its own. It is
	// called after the handler returns (before it with Enforce), when routers that record
	// the match on the request (chi's RouteContext, ServeMux's r.Pattern in Go 1.23+) have
	// done so. A panic in it records the hit under "/".
	Route func(*http.Request) string
	// ClientIP returns the caller's IP. Default: the host of r.RemoteAddr. Behind a proxy,
	// return the address your proxy vouches for.
	ClientIP func(*http.Request) string
	// EnforceTimeout bounds the Record call of Enforce, retries included. Default 2s.
	// When it fails (the service is unreachable) the request is served (fail open) and the
	// hit is tracked with the same event id, so it counts once whatever happened.
	EnforceTimeout time.Duration
}

// Middleware records every request the wrapped handler answers, after the handler returns:
// method, route, status and caller IP, with the caller's key. It never panics into the
// request path: a panic in APIKey or ClientIP is recovered and reported to OnError (the
// request is then served untracked), and failures of the service never fail the request. A panic of the handler itself is left alone (the request is not tracked).
func Middleware(c *Client, cfg MiddlewareConfig) func(http.Handler) http.Handler {
	timeout := cfg.EnforceTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c == nil || cfg.APIKey == nil {
				next.ServeHTTP(w, r)
				return
			}
			key, hit, ok := c.describe(r, cfg)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			if cfg.Enforce {
				// Record runs before the handler: the route is what is known by now.
				hit.Endpoint = c.route(r, cfg)
				ctx, cancel := context.WithTimeout(r.Context(), timeout)
				res, err := c.RecordWithKey(ctx, key, hit)
				cancel()
				var apiErr *APIError
				switch {
				case err == nil && !res.Accepted:
					writeOverQuota(w, res)
					return
				case err == nil:
					next.ServeHTTP(w, r)
					return
				case errors.As(err, &apiErr) && apiErr.StatusCode < 500, errors.Is(err, ErrClosed):
					// A verdict a retry cannot change (unknown key, ...): serve, untracked.
					c.reporter.report(fmt.Errorf("usage: middleware: %w", err))
					next.ServeHTTP(w, r)
					return
				default:
					// The service is unreachable: serve, and track the same event id.
					c.reporter.report(fmt.Errorf("usage: middleware: enforce failed open: %w", err))
				}
			}
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if !cfg.Enforce {
				// After the handler: a router has recorded the matched pattern by now.
				hit.Endpoint = c.route(r, cfg)
			}
			hit.Status = rec.finalStatus()
			c.TrackWithKey(key, hit)
		})
	}
}

// describe starts the request's hit (all but its endpoint and status); ok is false when it
// is not to be tracked.
func (c *Client) describe(r *http.Request, cfg MiddlewareConfig) (key string, hit Hit, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.reporter.report(fmt.Errorf("usage: middleware: panic in MiddlewareConfig callback: %v", p))
			ok = false
		}
	}()
	key = cfg.APIKey(r)
	if key == "" {
		return "", Hit{}, false
	}
	ip := ""
	if cfg.ClientIP != nil {
		ip = cfg.ClientIP(r)
	} else {
		ip = remoteIP(r.RemoteAddr)
	}
	method := r.Method
	if !methods[method] {
		method = ""
	}
	var id [36]byte
	newUUID(&id)
	return key, Hit{IP: ip, Method: method, Timestamp: time.Now(), EventID: string(id[:])}, true
}

// route is cfg.Route's pattern, or the request's path.
func (c *Client) route(r *http.Request, cfg MiddlewareConfig) (route string) {
	defer func() {
		if p := recover(); p != nil {
			c.reporter.report(fmt.Errorf("usage: middleware: panic in MiddlewareConfig.Route: %v", p))
			route = "/"
		}
	}()
	if cfg.Route != nil {
		route = cfg.Route(r)
	}
	if route == "" {
		route = r.URL.Path
		if strings.IndexByte(route, 0) >= 0 {
			route = r.URL.EscapedPath()
		}
	}
	if !strings.HasPrefix(route, "/") {
		route = "/" + route
	}
	return route
}

// remoteIP is the host part of RemoteAddr, without an IPv6 zone; "0.0.0.0" when there is
// none (a Unix socket), so the hit is still counted.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	if net.ParseIP(host) == nil {
		return "0.0.0.0"
	}
	return host
}

func writeOverQuota(w http.ResponseWriter, res RecordResult) {
	h := w.Header()
	h.Set("retry-after", strconv.Itoa(res.ResetSeconds))
	h.Set("x-ratelimit-limit", strconv.Itoa(res.Limit))
	h.Set("x-ratelimit-remaining", "0")
	h.Set("x-ratelimit-reset", strconv.Itoa(res.ResetSeconds))
	h.Set("content-type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"statusCode":429,"code":"RATE_LIMITED","error":"Too Many Requests","message":"quota exceeded"}`)
}

// statusRecorder remembers the status the handler answered. It keeps the optional
// interfaces net/http's own writer has (Flusher, Hijacker, io.ReaderFrom) and unwraps for
// http.ResponseController (Go 1.20+).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	// 1xx other than 101 are informational: the final status comes later.
	if s.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{s.ResponseWriter}, src)
}

func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("usage: the underlying ResponseWriter does not support hijacking")
	}
	conn, rw, err := h.Hijack()
	if err == nil && s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// finalStatus is what the client received: 200 when the handler wrote nothing.
func (s *statusRecorder) finalStatus() int {
	if s.status < 100 || s.status > 599 {
		if s.status == 0 {
			return http.StatusOK
		}
		return 0
	}
	return s.status
}
