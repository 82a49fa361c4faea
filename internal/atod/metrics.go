package atod

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are atod's Prometheus metrics, in a registry of their own (with
// the Go runtime's and the process's), served at /metrics.
//
//	atod_http_requests_total{endpoint,method,code}   requests answered
//	atod_http_request_duration_seconds{endpoint}     latency, from the first byte read to the last written
//	atod_verdicts_total{verdict,rule}                evaluations by verdict and the rule that decided
//	atod_reasons_total{reason}                       reasons reported by evaluations
//	atod_challenge_codes_sent_total{channel}         codes delivered
//	atod_challenge_send_failures_total{channel}      codes a sender failed to deliver
//	atod_challenge_verifications_total{result}       codes checked: right, wrong, error
//	atod_store_errors_total{operation}               store calls that failed (not "not found")
//
// Every label takes a bounded set of values: endpoints are route
// patterns, rules and reasons those of the policy and the signals.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	verdicts   *prometheus.CounterVec
	reasons    *prometheus.CounterVec
	sent       *prometheus.CounterVec
	sendFailed *prometheus.CounterVec
	verified   *prometheus.CounterVec
	storeErrs  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_http_requests_total", Help: "HTTP requests answered, by endpoint (route pattern), method and status code.",
		}, []string{"endpoint", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atod_http_request_duration_seconds", Help: "Time to answer an HTTP request, by endpoint (route pattern).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_verdicts_total", Help: "Evaluations, by verdict and the policy rule that decided.",
		}, []string{"verdict", "rule"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_reasons_total", Help: "Reasons reported by evaluations.",
		}, []string{"reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_challenge_codes_sent_total", Help: "Challenge codes delivered, by channel.",
		}, []string{"channel"}),
		sendFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_challenge_send_failures_total", Help: "Challenge codes a sender failed to deliver, by channel.",
		}, []string{"channel"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_challenge_verifications_total", Help: "Challenge codes checked, by result: right, wrong or error.",
		}, []string{"result"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atod_store_errors_total", Help: "Store calls that failed, by store operation (a record not found is not a failure).",
		}, []string{"operation"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.verdicts, m.reasons, m.sent, m.sendFailed, m.verified, m.storeErrs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) observe(endpoint, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
}
