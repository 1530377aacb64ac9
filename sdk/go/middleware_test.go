package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func ordersMux(served *int32) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/orders/", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(served, 1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "created")
	})
	mux.HandleFunc("/v1/health", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(served, 1) // writes nothing: 200
	})
	return mux
}

func get(t *testing.T, method, url, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestMiddlewareRecordsRouteMethodStatusAndIP(t *testing.T) {
	st := needStack(t)
	caller := st.register(t, "middleware")
	sp := newSpy(t, st.base)
	log := &errorLog{}
	c := newClient(t, Config{BaseURL: sp.URL, FlushAt: 100, FlushInterval: time.Hour, OnError: log.add})
	var served int32
	route := func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/v1/orders/") {
			return "/v1/orders/:id"
		}
		return "" // the path
	}
	app := httptest.NewServer(Middleware(c, MiddlewareConfig{APIKey: func(r *http.Request) string { return r.Header.Get("X-Api-Key") }, Route: route})(ordersMux(&served)))
	defer app.Close()

	get(t, "GET", app.URL+"/v1/orders/1", caller.key)
	get(t, "POST", app.URL+"/v1/orders/2", caller.key)
	get(t, "GET", app.URL+"/v1/health", caller.key)
	if res := get(t, "GET", app.URL+"/v1/orders/3", ""); res.StatusCode != 201 {
		t.Fatalf("a request without a key answered %d, want it served", res.StatusCode)
	}
	if atomic.LoadInt32(&served) != 4 {
		t.Fatalf("handler served %d requests, want 4", atomic.LoadInt32(&served))
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	var got []string
	for _, r := range sp.seen("/api/logs/batch") {
		if r.key != caller.key {
			t.Fatalf("a batch went with key %q", r.key)
		}
		for _, raw := range r.hits {
			var h struct {
				Endpoint, IP, Method string
				Status               int
			}
			_ = json.Unmarshal(raw, &h)
			got = append(got, fmt.Sprintf("%s %s %d %s", h.Method, h.Endpoint, h.Status, h.IP))
		}
	}
	sort.Strings(got)
	want := []string{"GET /v1/health 200 127.0.0.1", "GET /v1/orders/:id 201 127.0.0.1", "POST /v1/orders/:id 201 127.0.0.1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
	eventually(t, 20*time.Second, func() string {
		rows := st.sql(t, "select method || ' ' || endpoint || ' ' || status || ' ' || host(ip) as h from hits where client_id = $1 order by 1", caller.id)
		var stored []string
		for _, row := range rows {
			stored = append(stored, row["h"].(string))
		}
		if fmt.Sprint(stored) != fmt.Sprint(want) {
			return fmt.Sprintf("stored %q", stored)
		}
		return ""
	})

	// A panicking callback neither fails the request nor reaches the caller.
	boom := httptest.NewServer(Middleware(c, MiddlewareConfig{APIKey: func(*http.Request) string { panic("boom") }})(ordersMux(&served)))
	defer boom.Close()
	if res := get(t, "GET", boom.URL+"/v1/health", caller.key); res.StatusCode != 200 {
		t.Fatalf("with a panicking APIKey: %d", res.StatusCode)
	}
	eventually(t, 5*time.Second, func() string {
		for _, err := range log.all() {
			if strings.Contains(err.Error(), "boom") {
				return ""
			}
		}
		return "the panic was not reported"
	})
}

func TestMiddlewareEnforceAnswers429OverQuota(t *testing.T) {
	st := needStack(t)
	caller := st.register(t, "enforce")
	st.setQuota(t, caller.id, 2)
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL})
	var served int32
	app := httptest.NewServer(Middleware(c, MiddlewareConfig{APIKey: func(r *http.Request) string { return r.Header.Get("X-Api-Key") }, Enforce: true})(ordersMux(&served)))
	defer app.Close()

	for i := 1; i <= 2; i++ {
		if res := get(t, "GET", app.URL+"/v1/orders/"+strconv.Itoa(i), caller.key); res.StatusCode != 201 {
			t.Fatalf("request %d: %d, want served", i, res.StatusCode)
		}
	}
	res := get(t, "GET", app.URL+"/v1/orders/3", caller.key)
	retryAfter, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != 429 || retryAfter < 1 || retryAfter > 3600 || res.Header.Get("X-Ratelimit-Remaining") != "0" {
		t.Fatalf("over quota: %d, retry-after %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if atomic.LoadInt32(&served) != 2 {
		t.Fatalf("handler served %d requests, want 2 (not the one over quota)", atomic.LoadInt32(&served))
	}
	// A request without a key passes untracked.
	if res := get(t, "GET", app.URL+"/v1/orders/4", ""); res.StatusCode != 201 {
		t.Fatalf("without a key: %d", res.StatusCode)
	}
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := statusesOf(sp.seen("/api/logs")); fmt.Sprint(got) != "[202 202 429]" || len(sp.seen("/api/logs/batch")) != 0 {
		t.Fatalf("requests to the service: /api/logs %v, batches %d; want each hit recorded once by Record", got, len(sp.seen("/api/logs/batch")))
	}
	eventually(t, 20*time.Second, func() string {
		if n, _ := st.storedHits(t, caller.id); n != 2 {
			return fmt.Sprintf("%d hits stored, want 2", n)
		}
		return ""
	})
}

// With the service unreachable, enforcement fails open: the request is served and its hit
// tracked (with the event id Record used).
func TestMiddlewareEnforceFailsOpen(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	c := newClient(t, Config{BaseURL: dead, FlushInterval: time.Hour, MaxRetries: 1, RetryBaseDelay: time.Millisecond})
	var served int32
	app := httptest.NewServer(Middleware(c, MiddlewareConfig{APIKey: func(r *http.Request) string { return "uk_caller" }, Enforce: true,
		EnforceTimeout: 500 * time.Millisecond})(ordersMux(&served)))
	defer app.Close()
	start := time.Now()
	if res := get(t, "GET", app.URL+"/v1/orders/1", ""); res.StatusCode != 201 || atomic.LoadInt32(&served) != 1 {
		t.Fatalf("%d, served %d: want the request served", res.StatusCode, atomic.LoadInt32(&served))
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("the request waited %v for the dead service", elapsed)
	}
	if s := c.Stats(); s.Queued != 1 {
		t.Fatalf("stats %+v, want the hit tracked", s)
	}
}

// Route is read after the handler, when a router has recorded the pattern it matched on the
// request (as Go 1.23's ServeMux sets r.Pattern, or chi its RouteContext).
func TestMiddlewareReadsTheRouteAfterTheHandler(t *testing.T) {
	f := newFake(t)
	c := newClient(t, Config{BaseURL: f.URL})
	type patternKey struct{}
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*r.Context().Value(patternKey{}).(*string) = "/v1/things/{id}" // what the router matched
		w.WriteHeader(http.StatusAccepted)
	})
	metered := Middleware(c, MiddlewareConfig{
		APIKey: func(*http.Request) string { return "uk_caller" },
		Route:  func(r *http.Request) string { return *r.Context().Value(patternKey{}).(*string) },
	})(router)
	req := httptest.NewRequest("DELETE", "/v1/things/42", nil)
	req = req.WithContext(context.WithValue(req.Context(), patternKey{}, new(string)))
	metered.ServeHTTP(httptest.NewRecorder(), req)
	if err := c.Flush(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var h struct {
		Endpoint, Method, IP string
		Status               int
	}
	if len(f.hits) != 1 || json.Unmarshal(f.hits[0], &h) != nil || h.Endpoint != "/v1/things/{id}" || h.Method != "DELETE" ||
		h.Status != 202 || h.IP != "192.0.2.1" {
		t.Fatalf("recorded %s", f.hits)
	}
}

func TestStatusRecorder(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200},
		{"body only", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) }, 200},
		{"explicit", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, 404},
		{"informational first", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(204) }, 204},
		{"flushed", func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() }, 200},
		{"read from", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, strings.NewReader("abc")) }, 200},
	}
	for _, tc := range cases {
		rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
		tc.handler(rec, httptest.NewRequest("GET", "/", nil))
		if got := rec.finalStatus(); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if _, _, err := (&statusRecorder{ResponseWriter: httptest.NewRecorder()}).Hijack(); err == nil {
		t.Error("Hijack on a writer that cannot: no error")
	}
}
