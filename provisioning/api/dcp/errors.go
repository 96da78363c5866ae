package dcp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Error is a dcp error response: Code is both the HTTP status and the
// envelope's "code", Field the one parameter at fault (or "").
type Error struct {
	Code    int
	Message string
	Field   string
}

func (e *Error) Error() string { return fmt.Sprintf("dcp: %d %s", e.Code, e.Message) }

// The dcp document's own return codes.
const (
	codeInvalidToken   = http.StatusForbidden // 403
	codeDCPNotFound    = 501
	codeUserNotFound   = 502
	codeNumberNotFound = 503
)

// meaning is the HTTP status e stands for, for the HTTP metrics: the
// document's "not found" codes are 5xx by number only, and counting a
// client's typo as a server error would page the NOC.
func (e *Error) meaning() int {
	switch e.Code {
	case codeDCPNotFound, codeUserNotFound, codeNumberNotFound:
		return http.StatusNotFound
	}
	return e.Code
}

var errInvalidToken = &Error{Code: codeInvalidToken, Message: "Invalid token"}

func errDCP() error { return &Error{Code: codeDCPNotFound, Message: "DCP not found", Field: "dcp"} }

func errUser(field string) error {
	return &Error{Code: codeUserNotFound, Message: "User not found", Field: field}
}

func errNumber() error {
	return &Error{Code: codeNumberNotFound, Message: "Phone number not found", Field: "phonenumber"}
}

// badParam is a 400 naming one parameter.
func badParam(name, format string, args ...any) error {
	return &Error{Code: http.StatusBadRequest, Field: name,
		Message: "Invalid parameter " + name + ": " + fmt.Sprintf(format, args...)}
}

// fieldNames maps the model's field names (provisioning.FieldError,
// RefError, ConflictError) to the dcp parameter a caller sent, so that
// every message names the caller's own parameter.
var fieldNames = map[string]string{
	"login":            "accid",
	"first_name":       "firstname",
	"last_name":        "lastname",
	"username":         "phonenumber",
	"domain":           "dcp",
	"domain_id":        "dcp",
	"name":             "dcp",
	"description":      "desc",
	"caller_id_name":   "callerid_name",
	"caller_id_number": "callerid_number",
	"tenant_id":        "tenant",
	"user_id":          "user",
}

func paramFor(field string) string {
	if p, ok := fieldNames[field]; ok {
		return p
	}
	return field
}

// fromService translates an error of the provisioning.Service. userParam
// is the parameter that names a user in the verb at hand ("accid" or
// "user"). Anything it does not recognise is returned unchanged and
// becomes a 500.
func fromService(err error, userParam string) error {
	var (
		ae  *Error
		fe  *provisioning.FieldError
		re  *provisioning.RefError
		nf  *provisioning.NotFoundError
		ce  *provisioning.ConflictError
		ref string
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return badParam(paramFor(fe.Field), "%s", fe.Reason)
	case errors.As(err, &re):
		ref = paramFor(re.Field)
		switch ref {
		case "dcp":
			return errDCP()
		case "user":
			return errUser(userParam)
		}
		return badParam(ref, "%s", re.NotFoundError.Error())
	case errors.As(err, &nf):
		switch nf.Kind {
		case "domain":
			return errDCP()
		case "user":
			return errUser(userParam)
		case "account":
			return errNumber()
		case "tenant":
			return badParam("tenant", "tenant not found")
		}
		return &Error{Code: http.StatusNotFound, Message: "Not found"}
	case errors.As(err, &ce):
		if ce.Field == "" {
			return &Error{Code: http.StatusConflict, Message: ce.Reason}
		}
		p := paramFor(ce.Field)
		return &Error{Code: http.StatusConflict, Field: p, Message: "Conflict on parameter " + p + ": " + ce.Reason}
	case errors.Is(err, provisioning.ErrForbidden):
		return &Error{Code: http.StatusForbidden, Message: "Permission denied"}
	case errors.Is(err, provisioning.ErrUnauthenticated):
		return errInvalidToken
	}
	return err
}
