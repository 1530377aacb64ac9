package usage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run against a real gateway and worker of this repository, started by
// testdata/stack.ts (a private database and Redis prefix, removed at the end).

const adminKey = "sdk-go-test-admin-key-0123456789abcdef"

type testStack struct {
	base string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	mu   sync.Mutex
}

var (
	stackOnce sync.Once
	stackErr  error
	theStack  *testStack
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theStack != nil {
		theStack.stop()
	}
	os.Exit(code)
}

// needStack starts the gateway and worker on first use.
func needStack(t testing.TB) *testStack {
	t.Helper()
	stackOnce.Do(func() { theStack, stackErr = startStack() })
	if stackErr != nil {
		t.Fatalf("test stack: %v", stackErr)
	}
	return theStack
}

func startStack() (*testStack, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	node := filepath.Join(root, "node_modules", ".bin", "node")
	args := []string{"sdk/go/testdata/stack.ts"}
	if _, err := os.Stat(node); err != nil {
		// No pnpm-installed Node here: let pnpm find the project's Node.
		node, args = "pnpm", append([]string{"exec", "node"}, args...)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"RATE_LIMIT_PER_HOUR=1000000000",
		"REGISTER_LIMIT_PER_HOUR=1000000",
		"ADMIN_API_KEY="+adminKey,
	)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", node, err)
	}
	s := &testStack{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	ready := make(chan error, 1)
	go func() {
		var first map[string]interface{}
		line, err := s.out.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &first)
		}
		if err == nil {
			s.base, _ = first["base"].(string)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil || s.base == "" {
			s.stop()
			return nil, fmt.Errorf("stack did not start: %v", err)
		}
	case <-time.After(120 * time.Second):
		s.stop()
		return nil, errors.New("stack did not start within 120 s")
	}
	return s, nil
}

// stop ends stdin: the helper stops the gateway and worker and drops the database.
func (s *testStack) stop() {
	_ = s.in.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// call sends one command to the helper and returns its answer.
func (s *testStack) call(t testing.TB, command map[string]interface{}) map[string]interface{} {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	line, _ := json.Marshal(command)
	if _, err := s.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("stack command %v: %v", command["cmd"], err)
	}
	reply, err := s.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("stack command %v: %v", command["cmd"], err)
	}
	var answer map[string]interface{}
	if err := json.Unmarshal(reply, &answer); err != nil {
		t.Fatalf("stack answer %q: %v", reply, err)
	}
	if answer["ok"] != true {
		t.Fatalf("stack command %v failed: %v", command["cmd"], answer["error"])
	}
	return answer
}

// sql runs one statement on the stack's database and returns its rows.
func (s *testStack) sql(t testing.TB, text string, params ...interface{}) []map[string]interface{} {
	t.Helper()
	if params == nil {
		params = []interface{}{}
	}
	answer := s.call(t, map[string]interface{}{"cmd": "sql", "text": text, "params": params})
	raw, _ := json.Marshal(answer["rows"])
	var rows []map[string]interface{}
	_ = json.Unmarshal(raw, &rows)
	return rows
}

// storedHits counts a client's rows in hits, and how many distinct ids they have.
func (s *testStack) storedHits(t testing.TB, clientID string) (rows, distinct int) {
	t.Helper()
	r := s.sql(t, "select count(*)::int as n, count(distinct id)::int as d from hits where client_id = $1", clientID)
	return int(r[0]["n"].(float64)), int(r[0]["d"].(float64))
}

// storedIDs is the set of a client's stored hit ids.
func (s *testStack) storedIDs(t testing.TB, clientID string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, row := range s.sql(t, "select id::text as id from hits where client_id = $1", clientID) {
		ids[row["id"].(string)] = true
	}
	return ids
}

type registered struct{ id, key string }

// register makes a client through POST /api/register.
func (s *testStack) register(t testing.TB, name string) registered {
	t.Helper()
	var id [36]byte
	newUUID(&id)
	body, _ := json.Marshal(map[string]string{"name": name, "email": fmt.Sprintf("sdk-go-%s@example.com", id[:])})
	res, err := http.Post(s.base+"/api/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		ClientID string `json:"client_id"`
		APIKey   string `json:"api_key"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 201 {
		t.Fatalf("register: %d %v", res.StatusCode, err)
	}
	return registered{id: out.ClientID, key: out.APIKey}
}

// setQuota sets a client's hourly quota; call it before the key's first use (the gateway
// caches a key's client for a minute).
func (s *testStack) setQuota(t testing.TB, clientID string, perHour int) {
	t.Helper()
	s.sql(t, "update clients set rate_limit_per_hour = $1 where client_id = $2", perHour, clientID)
}

// eventually polls check until it returns "" (success) or the time is up.
func eventually(t testing.TB, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// spiedRequest is one request that went through a spy.
type spiedRequest struct {
	method, path, key string
	hits              []json.RawMessage // of a batch
	status            int
}

// spy is a reverse proxy in front of a gateway that remembers every request, and can
// answer some itself (fault injection).
type spy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []spiedRequest
	fault    func(r *http.Request) int // a status to answer instead of the gateway, or 0
}

func newSpy(t testing.TB, target string) *spy {
	t.Helper()
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = nil
	s := &spy{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		seen := spiedRequest{method: r.Method, path: r.URL.Path, key: r.Header.Get("x-api-key")}
		if r.URL.Path == "/api/logs/batch" {
			var b struct {
				Hits []json.RawMessage `json:"hits"`
			}
			_ = json.Unmarshal(body, &b)
			seen.hits = b.Hits
		}
		s.mu.Lock()
		fault := s.fault
		s.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w}
		if status := 0; fault != nil {
			if status = fault(r); status != 0 {
				rec.WriteHeader(status)
				_, _ = io.WriteString(rec, `{"statusCode":0,"code":"INJECTED","error":"injected","message":"injected by the test"}`)
			}
		}
		if rec.status == 0 {
			proxy.ServeHTTP(rec, r)
		}
		seen.status = rec.finalStatus()
		s.mu.Lock()
		s.requests = append(s.requests, seen)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// seen returns the requests to a path so far.
func (s *spy) seen(path string) []spiedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []spiedRequest
	for _, r := range s.requests {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

func (s *spy) setFault(f func(r *http.Request) int) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// errorLog collects what OnError receives.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// hitErrors returns the HitErrors of a kind and the total count of hits they report.
func (l *errorLog) hitErrors(kind error) ([]*HitError, int) {
	var out []*HitError
	total := 0
	for _, err := range l.all() {
		var he *HitError
		if errors.As(err, &he) && errors.Is(he, kind) {
			out = append(out, he)
			total += he.Count
		}
	}
	return out, total
}

func hitsOfRequests(reqs []spiedRequest) []int {
	n := make([]int, len(reqs))
	for i, r := range reqs {
		n[i] = len(r.hits)
	}
	return n
}

func statusesOf(reqs []spiedRequest) []int {
	n := make([]int, len(reqs))
	for i, r := range reqs {
		n[i] = r.status
	}
	return n
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient makes a client for a test and closes it at the end.
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func sampleHit(i int) Hit {
	return Hit{Endpoint: fmt.Sprintf("/v1/items/%d", i%50), IP: "203.0.113.7", Method: "GET", Status: 200}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
