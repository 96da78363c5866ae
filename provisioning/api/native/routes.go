package native

import (
	"net/http"
	"reflect"
)

// route is one entry of the route table: what the mux serves and what the
// OpenAPI document says about it.
type route struct {
	method  string // GET, POST, PATCH, DELETE
	path    string // a ServeMux path: /api/v1/accounts/{id}
	op      string // OpenAPI operationId
	tag     string
	summary string
	doc     string  // longer description, optional
	public  bool    // served without a token
	query   []param // every query parameter accepted; others are refused
	body    *body   // request body, nil for none
	upload  bool    // the body is an audio file, or a multipart form with it (sounds)
	csvBody string  // the body is CSV (a rate deck), described by csvBody
	resp    response
	// errs lists the error statuses the route answers with, for the
	// document; nil derives them from the method, path and body.
	errs    []int
	handler handlerFunc
}

// param is a query parameter.
type param struct {
	name string
	typ  string // "string", "id" (positive integer), "limit", "cdr-limit", "date-time", "count" (integer >= 0), "bool"
	doc  string
	// enum lists the values of a closed set, for the document; the
	// handler refuses others. Where the handler also takes other
	// spellings (a case-insensitive filter), enum has the canonical ones.
	enum []string
}

// body is a JSON request body.
type body struct {
	typ      reflect.Type
	name     string // component schema name
	required []string
	// many, when set, accepts a JSON array of at most many objects as
	// well as one object.
	many int
}

// response is the success response of a route.
type response struct {
	status int
	typ    reflect.Type // nil for no body
	name   string       // component schema name of typ
	list   bool         // typ is wrapped in the list envelope
	raw    bool         // a free-form JSON document (openapi.json)
	// media is the type of a body that is not JSON (text/csv,
	// text/event-stream), described by mediaDoc.
	media    string
	mediaDoc string
	headers  map[string]string // response headers worth documenting, with their descriptions
}

// buildRoutes is the route table. The mux and openapi.json are both built
// from it.
func (s *server) buildRoutes() []*route {
	routes := s.resourceRoutes()
	routes = append(routes, s.routingRoutes()...)
	routes = append(routes, s.liveRoutes()...)
	routes = append(routes, s.probeRoutes()...)
	routes = append(routes, s.cdrRoutes()...)
	routes = append(routes, s.soundRoutes()...)
	routes = append(routes, s.voicemailRoutes()...)
	routes = append(routes, s.faxRoutes()...)
	routes = append(routes, s.recordingRoutes()...)
	routes = append(routes, s.tariffRoutes()...)
	routes = append(routes, s.lcrRoutes()...)
	routes = append(routes, s.billingRoutes()...)
	routes = append(routes, s.limitRoutes()...)
	routes = append(routes, s.whitelistRoutes()...)
	routes = append(routes, &route{
		method: http.MethodGet, path: Prefix + "/openapi.json", op: "getOpenAPI", tag: "meta", public: true,
		summary: "This API's OpenAPI 3.0 document",
		resp:    response{status: http.StatusOK, raw: true},
		handler: func(w http.ResponseWriter, _ *http.Request, _ *call) error {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(s.openapi)
			return nil
		},
	})
	return routes
}
