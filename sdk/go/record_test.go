package usage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRecordCountsNowAndShortCircuitsOverQuota(t *testing.T) {
	st := needStack(t)
	client := st.register(t, "record")
	st.setQuota(t, client.id, 3)
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key})
	ctx := ctxTimeout(t, 20*time.Second)

	hit := sampleHit(1)
	var id [36]byte
	newUUID(&id)
	hit.EventID = strings.ToUpper(string(id[:]))
	first, err := c.Record(ctx, hit)
	if err != nil || !first.Accepted || first.Duplicate || first.ID != string(id[:]) || first.Limit != 3 || first.Remaining != 2 ||
		first.ResetSeconds < 1 || first.ResetSeconds > 3600 {
		t.Fatalf("first Record: %+v, %v", first, err)
	}
	again, err := c.Record(ctx, hit)
	if err != nil || !again.Accepted || !again.Duplicate || again.Remaining != 2 {
		t.Fatalf("the same event id again: %+v, %v; want a duplicate that costs nothing", again, err)
	}
	for want := 1; want >= 0; want-- {
		r, err := c.Record(ctx, sampleHit(2))
		if err != nil || !r.Accepted || r.Remaining != want {
			t.Fatalf("Record: %+v, %v; want accepted with %d remaining", r, err, want)
		}
	}
	over, err := c.Record(ctx, sampleHit(3))
	if err != nil || over.Accepted || over.Remaining != 0 || over.ResetSeconds < 1 || over.Limit != 3 {
		t.Fatalf("over quota: %+v, %v; want not accepted, no error, a reset", over, err)
	}
	sentBefore := len(sp.seen("/api/logs"))
	local, err := c.Record(ctx, sampleHit(4))
	if err != nil || local.Accepted || local.ResetSeconds < 1 || local.ResetSeconds > over.ResetSeconds || !isUUID(local.ID) {
		t.Fatalf("short-circuited Record: %+v, %v", local, err)
	}
	if n := len(sp.seen("/api/logs")); n != sentBefore {
		t.Fatalf("%d requests after the 429, want none until the reset", n-sentBefore)
	}
	if got := statusesOf(sp.seen("/api/logs")); fmt.Sprint(got) != "[202 202 202 202 429]" {
		t.Fatalf("statuses %v", got)
	}
	eventually(t, 20*time.Second, func() string {
		if n, _ := st.storedHits(t, client.id); n != 3 {
			return fmt.Sprintf("%d hits stored, want 3", n)
		}
		return ""
	})
	if s := c.Stats(); s != (Stats{}) {
		t.Fatalf("Record counted in Stats: %+v", s)
	}
}

func TestRecordErrors(t *testing.T) {
	st := needStack(t)
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: "uk_" + strings.Repeat("y", 43)})
	ctx := ctxTimeout(t, 10*time.Second)

	if _, err := c.Record(ctx, Hit{Endpoint: "/x", IP: "not-an-ip"}); !errors.Is(err, ErrInvalidHit) {
		t.Fatalf("invalid hit: %v", err)
	}
	if n := len(sp.seen("/api/logs")); n != 0 {
		t.Fatalf("an invalid hit made %d requests", n)
	}
	_, err := c.Record(ctx, sampleHit(1))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "UNAUTHORIZED" || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("unknown key: %v", err)
	}
	old := sampleHit(2)
	old.Timestamp = time.Now().Add(-40 * 24 * time.Hour)
	client := st.register(t, "record-errors")
	if _, err := c.RecordWithKey(ctx, client.key, old); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 ||
		!strings.Contains(apiErr.Message, "timestamp") {
		t.Fatalf("40-day-old hit: %v", err)
	}
}
