package telemetry

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Health is the body of a Dynamo frontend's GET /health. The current frontend answers 503 with status
// "not_ready" (message "Initial model discovery in progress", or "Initial model discovery failed: …")
// until its initial model discovery is complete, 503 "shutting_down" while it stops, and 200
// "healthy" otherwise; every answer lists the discovered endpoints and instances. 0.5.0 answered 200
// always, with status "unhealthy" and "No endpoints available" until a worker registered.
type Health struct {
	Status                   string           `json:"status"`
	Message                  string           `json:"message"`
	InitialDiscoveryComplete bool             `json:"initial_discovery_complete"`
	InitialDiscoveryError    *string          `json:"initial_discovery_error"`
	Endpoints                []string         `json:"endpoints"`
	Instances                []HealthInstance `json:"instances"`
}

// HealthInstance is one discovered instance of a worker endpoint.
type HealthInstance struct {
	Component  string            `json:"component"`
	Endpoint   string            `json:"endpoint"`
	Namespace  string            `json:"namespace"`
	InstanceID uint64            `json:"instance_id"`
	Transport  map[string]string `json:"transport"`
}

// The statuses of the frontend's /health.
const (
	HealthHealthy      = "healthy"
	HealthNotReady     = "not_ready"
	HealthShuttingDown = "shutting_down"
	MsgHealthy         = "Service is healthy"
	MsgDiscovering     = "Initial model discovery in progress"
	MsgShuttingDown    = "Service is shutting down"
)

// ReadHealth judges an answer of GET /health from a frontend or worker of either Dynamo generation,
// or of radix's own runtime: ready when the status code is 2xx and the body, if it is JSON with a
// status, says healthy or ready (0.5.0's frontend said "unhealthy" with a 200). detail is what to
// show when not ready: the body's message, else its status, else the code.
func ReadHealth(code int, body []byte) (ready bool, detail string) {
	var h struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	parsed := json.Unmarshal(body, &h) == nil
	status := strings.ToLower(h.Status)
	okStatus := !parsed || status == "" || status == HealthHealthy || status == "ready" || status == "ok" || status == "live"
	ready = code >= 200 && code < 300 && okStatus
	if ready {
		return true, ""
	}
	switch {
	case h.Message != "" && h.Status != "":
		detail = h.Status + ": " + h.Message
	case h.Message != "":
		detail = h.Message
	case h.Status != "":
		detail = h.Status
	default:
		detail = fmt.Sprintf("/health answered %d", code)
	}
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	return false, detail
}
