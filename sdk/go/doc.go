// Package usage is the Go client of the usage-metering service.
//
// Track queues a hit and returns at once; hits are sent in batches per API key (POST
// /api/logs/batch) by a few goroutines of the client, retried with backoff, each with an
// event id so that a retry never counts twice. Record checks and counts one hit
// synchronously (for quota enforcement), Daily and Top read usage, and Middleware meters
// an http.Handler. See README.md for the behaviour in full.
package usage
