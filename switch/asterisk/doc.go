// Package asterisk is the Asterisk adapter: Switchboard's side of an
// Asterisk node (20 and later). It reads phones, gateways and calls from
// ARI, derives one CDR per channel leg from the channel events, pushes
// provisioning as PJSIP objects over ARI's dynamic configuration, places
// and ends calls, and backfills from Asterisk's own CDR files.
//
// ARI's wire model is github.com/CyCoreSystems/ari/v6's (EndpointData,
// ConfigTupleList, OriginateRequest). Its transport, client/native, is
// not used: its REST calls take no context (no deadline: a slow Asterisk
// hangs the caller), its Connect blocks until Asterisk answers and then
// re-dials inside its own loop without telling anyone (so a resync cannot
// follow a reconnect), its websocket has no read deadline (a dead socket
// is never noticed), and its typed events drop fields Asterisk 23 sends
// (tech_cause) and the raw JSON each CDR keeps. The supervisor here
// (conn_ws.go, conn_rest.go, adapter.go) owns those concerns instead.
package asterisk
