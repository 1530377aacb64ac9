package usage_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	usage "github.com/usage-metering/sdk-go"
)

// A script: track, then Close before exiting (a program that exits without Close loses
// what is still buffered).
func Example() {
	c, err := usage.New(usage.Config{
		BaseURL: "http://127.0.0.1:3000",
		APIKey:  os.Getenv("USAGE_API_KEY"),
		OnError: func(err error) { log.Println(err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		c.Track(usage.Hit{Endpoint: "/v1/orders", IP: "203.0.113.7", Method: "GET", Status: 200})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		log.Printf("not every hit was delivered: %v", err)
	}
	s := c.Stats()
	fmt.Println(s.Sent, s.Rejected, s.Dropped)
}

// A server: meter every request, and on SIGTERM stop taking requests, then Close the
// client so the buffered hits are sent.
func ExampleMiddleware() {
	c, err := usage.New(usage.Config{BaseURL: "http://127.0.0.1:3000", OnError: func(err error) { log.Println(err) }})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/orders/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	metered := usage.Middleware(c, usage.MiddlewareConfig{
		APIKey: func(r *http.Request) string { return r.Header.Get("X-Api-Key") },
		Route: func(r *http.Request) string {
			if len(r.URL.Path) > len("/v1/orders/") {
				return "/v1/orders/:id"
			}
			return "" // the path itself
		},
		Enforce: false, // true: answer 429 to callers over their quota
	})
	server := &http.Server{Addr: ":8080", Handler: metered(mux)}

	go func() {
		if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = server.Shutdown(ctx) // first: no new requests, in-flight ones finish and are tracked
	_ = c.Close(ctx)         // then: send what is buffered
}

// A serverless function: the client lives across invocations (created once, outside the
// handler), and each invocation flushes before returning, because the platform may freeze
// the process as soon as the handler returns.
func Example_serverless() {
	c, err := usage.New(usage.Config{BaseURL: os.Getenv("USAGE_BASE_URL"), APIKey: os.Getenv("USAGE_API_KEY"),
		OnError: func(err error) { log.Println(err) }})
	if err != nil {
		log.Fatal(err)
	}
	handler := func(ctx context.Context, path, callerIP string) (int, error) {
		status := http.StatusOK // ... the function's work ...
		c.Track(usage.Hit{Endpoint: path, IP: callerIP, Method: "POST", Status: status})

		flushCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := c.Flush(flushCtx); err != nil {
			log.Printf("usage: %v", err)
		}
		return status, nil
	}
	_, _ = handler(context.Background(), "/v1/orders", "203.0.113.7") // lambda.Start(handler) on AWS
}

// Record counts one hit now and says whether the caller is within its quota.
func ExampleClient_Record() {
	c, err := usage.New(usage.Config{BaseURL: "http://127.0.0.1:3000", APIKey: os.Getenv("USAGE_API_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
	res, err := c.Record(context.Background(), usage.Hit{Endpoint: "/v1/reports", IP: "203.0.113.7", Method: "POST"})
	switch {
	case err != nil:
		log.Printf("could not check the quota: %v", err) // fail open or closed: your call
	case !res.Accepted:
		log.Printf("over quota: retry in %d s", res.ResetSeconds)
	default:
		log.Printf("%d of %d hits left this hour", res.Remaining, res.Limit)
	}
}
