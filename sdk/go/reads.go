package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// DailyUsage is the body of GET /api/usage/daily.
type DailyUsage struct {
	Data []ClientDaily `json:"data"`
	// NextCursor pages an admin's read (DailyOptions.Cursor); empty on the last page.
	NextCursor string `json:"next_cursor"`
	// Cache is the x-cache header: "HIT" or "MISS".
	Cache string `json:"-"`
}

// ClientDaily is one client's last 7 UTC days, oldest first, zero-filled.
type ClientDaily struct {
	ClientID string     `json:"client_id"`
	Name     string     `json:"name"`
	Days     []DayCount `json:"days"`
}

// DayCount is one UTC day ("2006-01-02") and its hits.
type DayCount struct {
	Date          string `json:"date"`
	TotalRequests int64  `json:"total_requests"`
}

// TopUsage is the body of GET /api/usage/top.
type TopUsage struct {
	Window struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
	} `json:"window"`
	Data  []TopClient `json:"data"`
	Cache string      `json:"-"`
}

// TopClient is one client of the top list.
type TopClient struct {
	ClientID      string `json:"client_id"`
	Name          string `json:"name"`
	TotalRequests int64  `json:"total_requests"`
}

// DailyOptions page an admin's daily read.
type DailyOptions struct {
	Limit  int    // 1..1000; 0 means the service's default (100)
	Cursor string // NextCursor of the previous page
}

// Daily reads the last 7 days of usage with the default API key: the client's own days,
// or, with the admin key, every active client's (first page). The access token is fetched
// and renewed inside.
func (c *Client) Daily(ctx context.Context) (*DailyUsage, error) {
	return c.DailyPage(ctx, DailyOptions{})
}

// DailyPage is Daily with a page size and a cursor (admin).
func (c *Client) DailyPage(ctx context.Context, opts DailyOptions) (*DailyUsage, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var out DailyUsage
	cache, err := c.read(ctx, "/api/usage/daily", q, &out)
	out.Cache = cache
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Top reads the clients with the most hits in the last 24 hours (limit 1..100; 0 means the
// service's default, 3). It needs the admin key as the client's APIKey.
func (c *Client) Top(ctx context.Context, limit int) (*TopUsage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out TopUsage
	cache, err := c.read(ctx, "/api/usage/top", q, &out)
	out.Cache = cache
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// read GETs a usage path with a bearer token; a 401 renews the token once.
func (c *Client) read(ctx context.Context, path string, q url.Values, out interface{}) (string, error) {
	if c == nil {
		return "", ErrClosed
	}
	if c.cfg.APIKey == "" {
		return "", fmt.Errorf("%w: no API key", ErrUnauthorized)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	for renewed := false; ; renewed = true {
		token, err := c.tokens.get(ctx, c, renewed)
		if err != nil {
			return "", err
		}
		ans, err := c.withRetries(ctx, func() answer {
			return c.roundTrip(ctx, http.MethodGet, path, nil, func(h http.Header) { h.Set("authorization", "Bearer "+token) })
		})
		if err != nil {
			return "", err
		}
		if ans.status == http.StatusUnauthorized && !renewed {
			c.tokens.invalidate(token)
			continue
		}
		if ans.status != http.StatusOK {
			return "", ans.apiError()
		}
		if err := json.Unmarshal(ans.body, out); err != nil {
			return "", fmt.Errorf("usage: unreadable answer to GET %s: %w", path, err)
		}
		return ans.header.Get("x-cache"), nil
	}
}

// tokenCache holds the access token of the default key and renews it before it expires.
type tokenCache struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

// get returns a token valid for a while yet; force asks for a new one.
func (t *tokenCache) get(ctx context.Context, c *Client, force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && t.token != "" && time.Now().Before(t.expires) {
		return t.token, nil
	}
	ans, err := c.withRetries(ctx, func() answer { return c.post(ctx, "/api/auth/token", c.cfg.APIKey, nil) })
	if err != nil {
		return "", err
	}
	if ans.status != http.StatusOK {
		return "", ans.apiError()
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(ans.body, &body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("usage: unreadable answer to POST /api/auth/token")
	}
	// Renew when a tenth of the lifetime is left (at least 5 s before, at most a minute).
	ttl := time.Duration(body.ExpiresIn) * time.Second
	margin := ttl / 10
	if margin < 5*time.Second {
		margin = 5 * time.Second
	}
	if margin > time.Minute {
		margin = time.Minute
	}
	t.token, t.expires = body.AccessToken, time.Now().Add(ttl-margin)
	return t.token, nil
}

// invalidate forgets a token the service refused, unless it was already replaced.
func (t *tokenCache) invalidate(token string) {
	t.mu.Lock()
	if t.token == token {
		t.token = ""
	}
	t.mu.Unlock()
}
