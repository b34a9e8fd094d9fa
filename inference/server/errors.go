package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/radixops/radix/inference/engine"
)

// httpError is an error with the status and OpenAI type/code it should be reported with.
type httpError struct {
	status     int
	typ, code  string
	param      string
	msg        string
	retryAfter string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(param, msg string) *httpError {
	return &httpError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, msg: msg}
}

// classify maps backend errors to statuses: bad requests 400, overload 503 with Retry-After.
func classify(err error) *httpError {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, engine.ErrPromptTooLong), errors.Is(err, engine.ErrNeverFits):
		return &httpError{status: 400, typ: "invalid_request_error", code: "context_length_exceeded", param: "messages", msg: err.Error()}
	case errors.Is(err, engine.ErrEmptyPrompt):
		return badRequest("prompt", err.Error())
	case errors.Is(err, engine.ErrOverloaded):
		return &httpError{status: 503, typ: "server_error", code: "overloaded", msg: err.Error(), retryAfter: "1"}
	case errors.Is(err, engine.ErrDraining):
		return &httpError{status: 503, typ: "server_error", code: "shutting_down", msg: err.Error(), retryAfter: "5"}
	}
	return &httpError{status: 500, typ: "server_error", msg: err.Error()}
}

func writeError(w http.ResponseWriter, err error) {
	he := classify(err)
	if he.status == 400 && he.typ == "" {
		he.typ = "invalid_request_error"
	}
	if he.retryAfter != "" {
		w.Header().Set("Retry-After", he.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(he.status)
	_ = json.NewEncoder(w).Encode(errorBody(he))
}

func errorBody(he *httpError) ErrorBody {
	b := ErrorBody{Error: APIError{Message: he.msg, Type: he.typ}}
	if he.param != "" {
		p := he.param
		b.Error.Param = &p
	}
	if he.code != "" {
		c := he.code
		b.Error.Code = &c
	}
	return b
}
