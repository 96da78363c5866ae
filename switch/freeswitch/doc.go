// Package freeswitch is the FreeSWITCH adapter: Switchboard's side of a
// FreeSWITCH node (1.10 and later). It follows registrations, gateways and
// calls over the inbound event socket (ESL, with a client of our own:
// see esl.go), derives one CDR per leg from
// CHANNEL_HANGUP_COMPLETE and takes mod_json_cdr's POSTs as the durable
// second source of the same CDRs, answers mod_xml_curl's directory and
// dialplan lookups from the provisioning store, signals provisioning
// changes over ESL, and places and ends calls. README.md has what an
// operator sets on FreeSWITCH.
package freeswitch
