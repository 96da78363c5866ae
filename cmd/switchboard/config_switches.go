package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/sip"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

// SwitchConfig is one managed switch node: the keys every node has, and
// the block of its type's settings, which the adapter package owns
// (asterisk.NodeConfig, freeswitch.NodeConfig). In the file both are one
// YAML mapping.
type SwitchConfig struct {
	// Name identifies the node in presence, CDRs (half of each CDR's
	// identity: never rename a node that has CDRs) and metrics.
	Name string `yaml:"name"`
	// Type is the adapter: a key of switchTypes.
	Type string `yaml:"type"`
	// Domain is the SIP domain this node serves: only its accounts are
	// pushed, as plain usernames. Empty pushes every domain's accounts
	// named user@domain.
	Domain string `yaml:"domain"`
	// ReconcileInterval is how often presence is re-read from the node.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// SIPURI is the node's SIP listener, probed with OPTIONS when
	// sip.enabled (e.g. sip:127.0.0.1:5060;transport=udp); empty: not
	// probed.
	SIPURI string `yaml:"sip_uri"`
	// RegisterCheck is the AOR (user@domain) of a provisioned probe
	// account that REGISTERs to SIPURI every RegisterCheckInterval, to
	// prove the node still takes registrations; its secret is read from
	// the provisioning store. Empty: no check.
	RegisterCheck         string        `yaml:"register_check"`
	RegisterCheckInterval time.Duration `yaml:"register_check_interval"`
	// Authz is the node's real-time call authorization: empty (off),
	// fail_open or fail_closed (what the node does with a call through a
	// gateway when Switchboard cannot answer). FreeSWITCH asks in its
	// xml_curl dialplan answers; Asterisk with CURL() to authz_url.
	Authz string `yaml:"authz"`

	// The block of the node's type; exactly one is set once the file is
	// decoded with a known type.
	Asterisk   *asterisk.NodeConfig   `yaml:"-"`
	FreeSWITCH *freeswitch.NodeConfig `yaml:"-"`
}

// switchBlock is what the configuration does with a type's block: its
// adapter package owns the keys, their defaults and their checks.
type switchBlock interface {
	SetDefaults()
	Validate() error // a *provisioning.FieldError naming the key
}

// switchTypes composes the configuration of a node from its type: each
// returns the node's (new) block of that type. The node's keys other than
// the common ones are decoded strictly into it.
var switchTypes = map[string]func(sw *SwitchConfig) switchBlock{
	"asterisk":   func(sw *SwitchConfig) switchBlock { sw.Asterisk = &asterisk.NodeConfig{}; return sw.Asterisk },
	"freeswitch": func(sw *SwitchConfig) switchBlock { sw.FreeSWITCH = &freeswitch.NodeConfig{}; return sw.FreeSWITCH },
}

// block is the node's block, nil when its type is unknown.
func (sw *SwitchConfig) block() switchBlock {
	switch {
	case sw.Asterisk != nil:
		return sw.Asterisk
	case sw.FreeSWITCH != nil:
		return sw.FreeSWITCH
	}
	return nil
}

// switchList is the switches section: each node is decoded by its type.
type switchList []SwitchConfig

// UnmarshalYAML decodes each node's common keys into SwitchConfig and the
// others into the block of its type, refusing (by name, with its line) a
// key neither has: a key of another type (a cdr_file on a FreeSWITCH node
// would look active and do nothing) or a typo. A node of an unknown type
// is left for Validate to refuse.
func (l *switchList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &ConfigError{Key: "switches", Reason: fmt.Sprintf("must be a list of nodes (line %d)", n.Line)}
	}
	*l = make(switchList, len(n.Content))
	for i, item := range n.Content {
		if err := (*l)[i].decode(item); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.Key = fmt.Sprintf("switches[%d]%s", i, ce.Key)
				return ce
			}
			return &ConfigError{Key: fmt.Sprintf("switches[%d]", i), Reason: yamlReason(err)}
		}
	}
	return nil
}

// decode reads one node. A *ConfigError's Key is relative to the node
// (".esl").
func (sw *SwitchConfig) decode(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &ConfigError{Reason: fmt.Sprintf("must be a mapping of keys (line %d)", n.Line)}
	}
	common, rest := &yaml.Node{Kind: yaml.MappingNode}, &yaml.Node{Kind: yaml.MappingNode}
	commonKeys := yamlKeys(sw)
	for i := 0; i+1 < len(n.Content); i += 2 {
		dst := rest
		if commonKeys[n.Content[i].Value] {
			dst = common
		}
		dst.Content = append(dst.Content, n.Content[i], n.Content[i+1])
	}
	type plain SwitchConfig // without this method
	if err := common.Decode((*plain)(sw)); err != nil {
		return err
	}
	newBlock, ok := switchTypes[sw.Type]
	if !ok {
		return nil
	}
	b := newBlock(sw)
	blockKeys := yamlKeys(b)
	for i := 0; i+1 < len(rest.Content); i += 2 {
		if k := rest.Content[i]; !blockKeys[k.Value] {
			return &ConfigError{Key: "." + k.Value, Reason: fmt.Sprintf("is not a setting of %s nodes (line %d)", sw.Type, k.Line)}
		}
	}
	if err := rest.Decode(b); err != nil {
		return err
	}
	b.SetDefaults()
	return nil
}

// yamlKeys lists the YAML keys of the struct v points to.
func yamlKeys(v any) map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

var switchNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validateSwitches checks each node: its common keys here, its type's
// block by its adapter package.
func validateSwitches(switches []SwitchConfig, probing bool) error {
	seen := map[string]bool{}
	for i := range switches {
		sw := &switches[i]
		key := func(field string) string { return fmt.Sprintf("switches[%d].%s", i, field) }
		switch {
		case !switchNameRe.MatchString(sw.Name):
			return &ConfigError{Key: key("name"), Reason: "must be 1-32 lower-case letters, digits, _ or -"}
		case seen[sw.Name]:
			return &ConfigError{Key: key("name"), Reason: fmt.Sprintf("%q is used twice", sw.Name)}
		case sw.block() == nil:
			return &ConfigError{Key: key("type"), Reason: "must be asterisk or freeswitch"}
		case sw.ReconcileInterval < 0:
			return &ConfigError{Key: key("reconcile_interval"), Reason: "must not be negative"}
		}
		if err := sw.block().Validate(); err != nil {
			var fe *provisioning.FieldError
			if !errors.As(err, &fe) {
				return &ConfigError{Key: fmt.Sprintf("switches[%d]", i), Reason: err.Error()}
			}
			return &ConfigError{Key: key(fe.Field), Reason: fe.Reason}
		}
		if sw.Domain != "" && provisioning.ValidateDomainName(sw.Domain) != nil {
			return &ConfigError{Key: key("domain"), Reason: "must be a SIP domain name"}
		}
		if err := validateSwitchSIP(sw, probing, key); err != nil {
			return err
		}
		seen[sw.Name] = true
	}
	return nil
}

// validateSwitchSIP checks a switch's sip_uri and register check.
func validateSwitchSIP(sw *SwitchConfig, probing bool, key func(string) string) error {
	if probing && sw.Name == api.ProbeFeed {
		return &ConfigError{Key: key("name"), Reason: fmt.Sprintf("%q is the SIP prober's name in the live view while sip.enabled is true: choose another", api.ProbeFeed)}
	}
	if sw.SIPURI != "" {
		if _, err := sip.ParseURI(sw.SIPURI); err != nil {
			return &ConfigError{Key: key("sip_uri"), Reason: err.Error() + ", like sip:127.0.0.1:5060;transport=udp"}
		}
	}
	switch sw.Authz {
	case "", authzFailOpen, authzFailClosed:
	default:
		return &ConfigError{Key: key("authz"), Reason: "must be fail_open, fail_closed or empty (off)"}
	}
	if sw.Authz != "" && sw.Asterisk != nil {
		if sw.Asterisk.AuthzURL == "" {
			return &ConfigError{Key: key("authz_url"), Reason: "is required with authz: the daemon's /asterisk/<name>/authz as Asterisk reaches it"}
		}
		if !sw.Asterisk.Routing {
			return &ConfigError{Key: key("authz"), Reason: "needs routing: the calls are asked about in the routing dialplan"}
		}
	}
	if sw.RegisterCheck != "" {
		user, domain, ok := strings.Cut(sw.RegisterCheck, "@")
		if !ok || user == "" || provisioning.ValidateDomainName(strings.ToLower(domain)) != nil {
			return &ConfigError{Key: key("register_check"), Reason: "must be a probe account's AOR, user@domain"}
		}
		if sw.SIPURI == "" {
			return &ConfigError{Key: key("register_check"), Reason: "needs sip_uri: the registrar the probe account registers to"}
		}
	}
	if sw.RegisterCheckInterval != 0 && (sw.RegisterCheckInterval < 100*time.Millisecond || sw.RegisterCheckInterval > 24*time.Hour) {
		return &ConfigError{Key: key("register_check_interval"), Reason: "must be 0 (60s) or between 100ms and 24h"}
	}
	return nil
}
