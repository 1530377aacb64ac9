package usage

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestDailyAndTopWithTokenRenewal(t *testing.T) {
	st := needStack(t)
	client, other := st.register(t, "reads"), st.register(t, "reads-other")
	sp := newSpy(t, st.base)
	c := newClient(t, Config{BaseURL: sp.URL, APIKey: client.key})
	for i := 0; i < 7; i++ {
		c.Track(sampleHit(i))
	}
	c.TrackWithKey(other.key, sampleHit(0)) // a second active client, for the admin's pages
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	today := time.Now().UTC().Format("2006-01-02")
	eventually(t, 20*time.Second, func() string {
		daily, err := c.Daily(ctxTimeout(t, 10*time.Second))
		if err != nil {
			return err.Error()
		}
		if len(daily.Data) != 1 || daily.Data[0].ClientID != client.id || len(daily.Data[0].Days) != 7 {
			return fmt.Sprintf("daily %+v", daily)
		}
		last := daily.Data[0].Days[6]
		if last.Date != today || last.TotalRequests != 7 || (daily.Cache != "HIT" && daily.Cache != "MISS") {
			return fmt.Sprintf("today %+v (x-cache %q), want 7 hits on %s", last, daily.Cache, today)
		}
		return ""
	})
	if n := len(sp.seen("/api/auth/token")); n != 1 {
		t.Fatalf("%d token requests, want one reused token", n)
	}

	// The service refuses the token once (as after a secret rotation): it is renewed.
	var refused int32
	sp.setFault(func(r *http.Request) int {
		if r.URL.Path == "/api/usage/daily" && atomic.CompareAndSwapInt32(&refused, 0, 1) {
			return http.StatusUnauthorized
		}
		return 0
	})
	if _, err := c.Daily(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Daily after a refused token: %v", err)
	}
	if n := len(sp.seen("/api/auth/token")); n != 2 || atomic.LoadInt32(&refused) != 1 {
		t.Fatalf("%d token requests, want a renewal after the 401", n)
	}
	sp.setFault(nil)

	// Top needs the admin key; a client's token gets 403.
	if _, err := c.Top(ctxTimeout(t, 10*time.Second), 3); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Top with a client key: %v, want 403", err)
	}
	admin := newClient(t, Config{BaseURL: st.base, APIKey: adminKey})
	eventually(t, 20*time.Second, func() string {
		top, err := admin.Top(ctxTimeout(t, 10*time.Second), 100)
		if err != nil {
			return err.Error()
		}
		for _, row := range top.Data {
			if row.ClientID == client.id && row.TotalRequests == 7 && row.Name == "reads" {
				if top.Window.To.Sub(top.Window.From) < 23*time.Hour {
					return fmt.Sprintf("window %+v", top.Window)
				}
				return ""
			}
		}
		return fmt.Sprintf("client not in the top list %+v", top.Data)
	})
	var page *DailyUsage
	eventually(t, 20*time.Second, func() string {
		var err error
		page, err = admin.DailyPage(ctxTimeout(t, 10*time.Second), DailyOptions{Limit: 1})
		if err != nil || page.NextCursor == "" {
			return fmt.Sprintf("admin daily page: %+v, %v; want a cursor to a second page", page, err)
		}
		return ""
	})
	if len(page.Data) != 1 {
		t.Fatalf("admin daily page of 1: %+v", page)
	}
	next, err := admin.DailyPage(ctxTimeout(t, 10*time.Second), DailyOptions{Limit: 1, Cursor: page.NextCursor})
	if err != nil || len(next.Data) != 1 || next.Data[0].ClientID == page.Data[0].ClientID {
		t.Fatalf("second page: %+v, %v", next, err)
	}
}
