package native

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// The machine-readable error codes of the envelope. They are part of the
// API contract (README.md, openapi.json).
const (
	codeInvalid          = "invalid"                // a field fails validation (400)
	codeMalformedBody    = "malformed_body"         // the body is not the JSON object expected (400)
	codeUnknownField     = "unknown_field"          // the body has a field the operation does not accept (400)
	codeBadParameter     = "bad_parameter"          // a path or query parameter is malformed or unknown (400)
	codeUnauthenticated  = "unauthenticated"        // missing, unknown or revoked token (401)
	codeForbidden        = "forbidden"              // the token's role may not do this (403)
	codeNotFound         = "not_found"              // no such object in the caller's scope, or no such route (404)
	codeMethodNotAllowed = "method_not_allowed"     // (405)
	codeConflict         = "conflict"               // duplicate, or the object still has dependants (409)
	codeBodyTooLarge     = "body_too_large"         // (413)
	codeUnsupportedMedia = "unsupported_media_type" // the body is not application/json (415)
	codeInvalidRef       = "invalid_reference"      // a field names an object that does not exist in scope (422)
	codeInternal         = "internal"               // (500)
	codeUnavailable      = "unavailable"            // a component the operation needs is missing or failing: retry (503)
)

// errorCodes lists every code, for the OpenAPI enum.
var errorCodes = []string{codeInvalid, codeMalformedBody, codeUnknownField, codeBadParameter,
	codeUnauthenticated, codeForbidden, codeNotFound, codeMethodNotAllowed, codeConflict,
	codeBodyTooLarge, codeUnsupportedMedia, codeInvalidRef, codeInternal, codeUnavailable}

// apiError is the one error envelope's content. Handlers return it for
// errors of the request itself; Service errors are mapped onto it by
// toAPIError.
type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

// errorEnvelope is the body of every error response.
type errorEnvelope struct {
	Error apiError `json:"error"`
}

func badParam(field, format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Code: codeBadParameter, Field: field, Message: prefixField(field, fmt.Sprintf(format, args...))}
}

func badBody(code, field, format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Code: code, Field: field, Message: prefixField(field, fmt.Sprintf(format, args...))}
}

// prefixField makes messages read "field: reason", like provisioning's
// FieldError, unless the reason already starts with the field.
func prefixField(field, msg string) string {
	if field == "" || strings.HasPrefix(msg, field+":") {
		return msg
	}
	return field + ": " + msg
}

// toAPIError maps an error onto the envelope. The order matters: a
// RefError is also a not-found, and is checked first.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		fe  *provisioning.FieldError
		re  *provisioning.RefError
		ce  *provisioning.ConflictError
		nfe *provisioning.NotFoundError
		fbe *provisioning.ForbiddenError
		tle *provisioning.TooLargeError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &re):
		// 422 rather than 400: the request is well-formed and valid, but
		// names (in Field) an object that does not exist in the caller's
		// scope. 404 is kept for the object of the URL itself.
		return &apiError{Status: http.StatusUnprocessableEntity, Code: codeInvalidRef, Field: re.Field, Message: re.Error()}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalid, Field: fe.Field, Message: fe.Error()}
	case errors.Is(err, provisioning.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalid, Message: clean(err)}
	case errors.As(err, &nfe):
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: nfe.Error()}
	case errors.Is(err, provisioning.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "not found"}
	case errors.As(err, &ce):
		return &apiError{Status: http.StatusConflict, Code: codeConflict, Field: ce.Field, Message: ce.Error()}
	case errors.Is(err, provisioning.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: codeConflict, Message: clean(err)}
	case errors.As(err, &fbe):
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Field: fbe.Field, Message: fbe.Error()}
	case errors.Is(err, provisioning.ErrForbidden):
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: clean(err)}
	case errors.Is(err, provisioning.ErrUnauthenticated):
		return &apiError{Status: http.StatusUnauthorized, Code: codeUnauthenticated, Message: "a valid bearer token is required"}
	case errors.As(err, &tle):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge, Field: tle.Field, Message: tle.Error()}
	case errors.Is(err, api.ErrBodyTooLarge):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge, Message: "request body too large"}
	}
	return nil
}

// clean strips the package prefix of a Service error message
// ("provisioning: forbidden: …" → "forbidden: …").
func clean(err error) string {
	return strings.TrimPrefix(err.Error(), "provisioning: ")
}

// writeError renders err in the envelope. Errors that map to no class are
// internal: they are logged and answered with a generic message, because
// their text may describe the database.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		level := slog.LevelError
		if api.ClientGone(r, err) {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "native: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"}
	}
	if ae.Status == http.StatusUnauthorized {
		v := `Bearer realm="switchboard"`
		if api.BearerToken(r) != "" {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	if err := writeJSON(w, ae.Status, errorEnvelope{Error: *ae}); err != nil {
		s.log.ErrorContext(r.Context(), "native: write error response", "err", err)
	}
}
