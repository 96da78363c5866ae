package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// RequestError is a non-2xx answer of ARI (or of res_prometheus).
type RequestError struct {
	Method  string
	Path    string
	Status  int
	Message string // ARI's {"message": …}, or the start of the body
}

func (e *RequestError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += fmt.Sprintf(" %q", e.Message)
	}
	return s
}

// responseError reads resp's body into a RequestError.
func responseError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	e := &RequestError{Status: resp.StatusCode}
	if resp.Request != nil {
		e.Method, e.Path = resp.Request.Method, resp.Request.URL.Path
	}
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		e.Message = m.Message
	} else {
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	return e
}

// restClient is the adapter's read side of ARI's REST interface.
type restClient struct {
	base           string // ".../ari"
	user, password string
	hc             *http.Client
}

// do sends one request and decodes a JSON answer into out (nil: ignore
// the body). ctx bounds the whole exchange.
func (c *restClient) do(ctx context.Context, method, path string, query url.Values, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", method, path, err)
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("asterisk: %w", responseError(resp))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("asterisk: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// endpoints reads every PJSIP endpoint.
//
// A node that has had no PJSIP endpoint since it started answers 404 "No
// Endpoints found - invalid tech PJSIP" (Asterisk 23.4.1: the technology
// is known to ARI only from its first endpoint on): that is no endpoint,
// not a failure, or the adapter could never connect to a fresh node whose
// endpoints all come from Switchboard's push.
func (c *restClient) endpoints(ctx context.Context) ([]Endpoint, error) {
	var eps []Endpoint
	err := c.do(ctx, http.MethodGet, "/endpoints/PJSIP", nil, &eps)
	var re *RequestError
	if errors.As(err, &re) && re.Status == http.StatusNotFound && strings.Contains(re.Message, "invalid tech") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return eps, nil
}

// channels reads the live channels, decoded by ParseChannels.
// channelVar reads a channel's variable or dialplan function, e.g.
// CHANNEL(audionativeformat): GET /channels/{id}/variable.
func (c *restClient) channelVar(ctx context.Context, id, name string) (string, error) {
	var v struct {
		Value string `json:"value"`
	}
	err := c.do(ctx, http.MethodGet, "/channels/"+url.PathEscape(id)+"/variable", url.Values{"variable": {name}}, &v)
	return v.Value, err
}

func (c *restClient) channels(ctx context.Context) ([]Channel, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/channels", nil, &raw); err != nil {
		return nil, err
	}
	chs, err := ParseChannels(raw)
	if err != nil {
		return nil, fmt.Errorf("asterisk: GET /channels: %w", err)
	}
	return chs, nil
}

// metrics reads res_prometheus's text exposition from metricsURL. It
// returns errMetricsOff when the module answers 404 (not loaded or not
// enabled in prometheus.conf).
func (c *restClient) metrics(ctx context.Context, metricsURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("asterisk: GET %s: %w", metricsURL, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asterisk: GET %s: %w", metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errMetricsOff
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("asterisk: %w", responseError(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("asterisk: GET %s: %w", metricsURL, err)
	}
	return b, nil
}

// errMetricsOff means res_prometheus does not answer on this node.
var errMetricsOff = errors.New("asterisk: res_prometheus is not enabled")
