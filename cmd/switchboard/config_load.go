package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError names the key at fault and where its value came from.
type ConfigError struct {
	Key    string // dotted key, e.g. http.listen
	Source string // "file config.yaml", "environment SWITCHBOARD_HTTP_LISTEN", "flag --http-listen"
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s (from %s): %s", e.Key, e.Source, e.Reason)
}

// LoadConfig builds the configuration from the file named by --config (or
// $SWITCHBOARD_CONFIG), the environment and the flags in args (every key
// has one), and validates it. env is os.Environ()-shaped, so tests pass
// their own.
func LoadConfig(fs *flag.FlagSet, args []string, env []string) (Config, error) {
	cf := addConfigFlags(fs, "")
	if err := fs.Parse(args); err != nil {
		return DefaultConfig(), err
	}
	if err := noArgs(fs); err != nil {
		return DefaultConfig(), err
	}
	return cf.load(fs, env)
}

// configFlags are the configuration flags of one command: --config and
// the flags of the keys it uses. Keys without a flag still come from the
// file and the environment, which the daemon shares with its commands.
type configFlags struct {
	path string
	vals map[string]*string // by key
}

// addConfigFlags defines --config and the flag of every key starting with
// one of prefixes ("" is every key) on fs. The flags' defaults are shown
// in the usage only: a flag sets its key when it is given.
func addConfigFlags(fs *flag.FlagSet, prefixes ...string) *configFlags {
	cf := &configFlags{vals: map[string]*string{}}
	fs.StringVar(&cf.path, "config", "", "YAML configuration `file` (default $SWITCHBOARD_CONFIG)")
	def := DefaultConfig()
	for _, s := range settings {
		for _, p := range prefixes {
			if strings.HasPrefix(s.key, p) {
				cf.vals[s.key] = fs.String(s.FlagName(), s.get(&def), s.help+" (env "+s.EnvName()+")")
				break
			}
		}
	}
	return cf
}

// load builds the configuration after fs has parsed the command line: the
// file, then the environment, then the flags given.
func (cf *configFlags) load(fs *flag.FlagSet, env []string) (Config, error) {
	cfg := DefaultConfig()
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	configPath := cf.path
	if configPath == "" {
		configPath = envMap["SWITCHBOARD_CONFIG"]
	}
	if configPath != "" {
		if err := loadFile(&cfg, configPath); err != nil {
			return cfg, err
		}
	}
	known := map[string]bool{"SWITCHBOARD_CONFIG": true}
	for _, s := range settings {
		known[s.EnvName()] = true
		if v, ok := envMap[s.EnvName()]; ok {
			if err := s.set(&cfg, v); err != nil {
				return cfg, &ConfigError{Key: s.key, Source: "environment " + s.EnvName(), Reason: err.Error()}
			}
		}
	}
	for k := range envMap {
		if strings.HasPrefix(k, "SWITCHBOARD_") && !known[k] && !strings.HasPrefix(k, "SWITCHBOARD_TEST_") {
			return cfg, &ConfigError{Key: k, Source: "environment", Reason: "unknown variable"}
		}
	}
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if v, ok := cf.vals[s.key]; ok && s.FlagName() == f.Name && setErr == nil {
				if err := s.set(&cfg, *v); err != nil {
					setErr = &ConfigError{Key: s.key, Source: "flag --" + f.Name, Reason: err.Error()}
				}
			}
		}
	})
	if setErr != nil {
		return cfg, setErr
	}
	return cfg, cfg.Validate()
}

func loadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)                                              // a misspelt key is an error, not a silent default
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		var ce *ConfigError // from a section that decodes itself (switches)
		if errors.As(err, &ce) {
			ce.Source = "file " + path
			return ce
		}
		return &ConfigError{Key: yamlKey(err), Source: "file " + path, Reason: yamlReason(err)}
	}
	return nil
}

// yamlKey pulls the offending key out of a yaml.v3 error message such as
// "line 3: field lisen not found in type main.HTTPConfig".
func yamlKey(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "field "); i >= 0 {
		rest := msg[i+len("field "):]
		if j := strings.Index(rest, " not found"); j >= 0 {
			return rest[:j]
		}
	}
	return "(file)"
}

func yamlReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	if strings.Contains(msg, "not found in type") {
		return "unknown key (" + msg + ")"
	}
	return msg
}
