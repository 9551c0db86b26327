package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/reboundhq/rebound/apps"
)

// APIError is an error Elasticsearch answered with: a non-2xx response, or
// one failed item of a bulk response.
type APIError struct {
	Status int    // HTTP status, e.g. 429
	Type   string // Elasticsearch error type, e.g. "es_rejected_execution_exception"; empty when the body had none
	Reason string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("elasticsearch: %d", e.Status)
	if e.Type != "" {
		msg += " " + e.Type
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// errorCause is the "error" object of Elasticsearch error bodies and bulk items.
type errorCause struct {
	Type     string      `json:"type"`
	Reason   string      `json:"reason"`
	CausedBy *errorCause `json:"caused_by"`
}

func (c *errorCause) apiError(status int) *APIError {
	reason := c.Reason
	if c.CausedBy != nil && c.CausedBy.Reason != "" && c.CausedBy.Reason != c.Reason {
		reason += " (caused by " + c.CausedBy.Type + ": " + c.CausedBy.Reason + ")"
	}
	return &APIError{Status: status, Type: c.Type, Reason: reason}
}

// maxErrorBody bounds how much of an error body is read: a proxy can answer
// with a large HTML page.
const maxErrorBody = 64 << 10

// responseError turns a non-2xx response into an *APIError. Bodies come as
// {"error":{...},"status":N}, {"error":"text","status":N}, or anything a
// proxy in between sends.
func responseError(res *esapi.Response) *APIError {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var cause errorCause
		if json.Unmarshal(body.Error, &cause) == nil && cause.Type != "" {
			return cause.apiError(res.StatusCode)
		}
		var text string
		if json.Unmarshal(body.Error, &text) == nil {
			return &APIError{Status: res.StatusCode, Reason: text}
		}
	}
	reason := strings.TrimSpace(string(bytes.ToValidUTF8(raw, nil)))
	if len(reason) > 200 {
		reason = reason[:200] + "…"
	}
	if reason == "" {
		reason = res.Status()
	}
	return &APIError{Status: res.StatusCode, Reason: reason}
}

// into finishes an esapi call, as in into(&resp)(client.Count(...)): a
// transport error is returned as is, a non-2xx answer becomes an *APIError,
// and a 2xx body is decoded into out (discarded when out is nil).
func into(out any) func(*esapi.Response, error) error {
	return func(res *esapi.Response, err error) error { return decode(res, err, out) }
}

func decode(res *esapi.Response, err error, out any) error {
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return responseError(res)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s response: %w", res.Status(), err)
	}
	return nil
}

// isAPIError reports whether err is an *APIError with the given status and,
// when typ is not empty, the given Elasticsearch error type.
func isAPIError(err error, status int, typ string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status && (typ == "" || ae.Type == typ)
}

func isIndexNotFound(err error) bool {
	return isAPIError(err, 404, "index_not_found_exception")
}

// notSent reports whether a transport error happened before any byte of the
// request left this process, so the write certainly was not applied. Every
// other transport error (a timeout, a reset, a body cut short) leaves the
// outcome unknown.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	if errors.Is(err, es.ErrClosed) {
		return true
	}
	// A server whose certificate did not verify got nothing; one that
	// refused rebound's client certificate refused the connection before
	// any request.
	if errors.Is(err, apps.ErrTLS) {
		return true
	}
	// elastictransport returns this unwrapped when its pool has no node.
	return strings.HasPrefix(err.Error(), "cannot get connection")
}

// writeError classifies a transport error of a write request.
func writeError(err error) error {
	if notSent(err) {
		return fmt.Errorf("request not sent: %w", err)
	}
	return fmt.Errorf("%w: %w", apps.ErrIndeterminate, err)
}
