package authz

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Handler serves the switches' authorization requests over HTTP, for a
// switch that asks at call time from its dialplan (Asterisk's CURL()):
//
//	GET /authorize?tenant=5&user=7&dest=4930123&dir=outbound&switch=ast1&call=<uniqueid>
//	    (or account=<endpoint> instead of user, resolved by Users)
//	→ 200 "allow:<max seconds>"  or  200 "deny:<reason>"
//	GET /release?switch=ast1&call=<uniqueid>&billsec=42   (billsec optional)
//	→ 204
//
// The body is one line a dialplan splits on ':' (Asterisk
// ${CUT(AUTHZ,:,1)}). A request Switchboard cannot decide (a source
// failed) is 503 "error:<message>" and a malformed one 400
// "error:<field>": the switch's fail policy applies to anything that is
// not allow or deny, as it does to a timeout.
type Handler struct {
	A interface {
		Authorize(ctx context.Context, c Call) (Decision, error)
		Release(switchName, callID string, billsec int) error
	}
	// Users, when set, turns the account parameter (the calling
	// endpoint) into the user whose limits apply.
	Users UserResolver
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	switch r.URL.Path {
	case "/authorize", "/":
		c := Call{Destination: q.Get("dest"), Direction: q.Get("dir"), Switch: q.Get("switch"), CallID: q.Get("call")}
		if c.Direction == "" {
			c.Direction = Outbound
		}
		var err error
		if c.TenantID, err = strconv.ParseInt(q.Get("tenant"), 10, 64); err != nil {
			answer(w, http.StatusBadRequest, "error:tenant is not a number")
			return
		}
		if u := q.Get("user"); u != "" {
			if c.UserID, err = strconv.ParseInt(u, 10, 64); err != nil {
				answer(w, http.StatusBadRequest, "error:user is not a number")
				return
			}
		}
		if acct := q.Get("account"); acct != "" && c.UserID == 0 && h.Users != nil && c.TenantID > 0 {
			if c.UserID, err = h.Users.AccountUser(r.Context(), c.TenantID, acct); err != nil {
				answer(w, http.StatusServiceUnavailable, "error:"+err.Error())
				return
			}
		}
		d, err := h.A.Authorize(r.Context(), c)
		switch {
		case errors.Is(err, ErrInvalidCall):
			answer(w, http.StatusBadRequest, "error:"+err.Error())
		case err != nil:
			answer(w, http.StatusServiceUnavailable, "error:"+err.Error())
		case d.Allowed:
			answer(w, http.StatusOK, "allow:"+strconv.Itoa(d.MaxSeconds))
		default:
			answer(w, http.StatusOK, "deny:"+string(d.Reason))
		}
	case "/release":
		billsec := Unanswered
		if s := q.Get("billsec"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				answer(w, http.StatusBadRequest, "error:billsec is not a number of seconds")
				return
			}
			billsec = n
		}
		if err := h.A.Release(q.Get("switch"), q.Get("call"), billsec); err != nil && !errors.Is(err, ErrUnknownCall) {
			answer(w, http.StatusServiceUnavailable, "error:"+err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func answer(w http.ResponseWriter, code int, body string) {
	// no newline: Asterisk's CURL() keeps it in the variable, and
	// ${CUT(…,:,2)} would hand "100\n" to Dial's S()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body) //nolint:errcheck // the switch went away
}
