package config

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// Print prints every key's effective value and its source, secrets
// redacted (a secret read through a reference shows the value it resolved
// to, redacted, and the reference), then the targets.
func Print(w io.Writer, cfg *Config, asJSON bool) error {
	type entry struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Source string `json:"source"`
		// Ref is the reference a secret was read through.
		Ref string `json:"reference,omitempty"`
	}
	entries := make([]entry, 0, len(keys))
	for _, k := range keys {
		s := cfg.values[k.name]
		v := s.value
		if k.secret {
			v = redact(v)
		}
		entries = append(entries, entry{Key: k.name, Value: v, Source: s.source, Ref: s.ref})
	}
	ids := make([]string, 0, len(cfg.Targets))
	for _, t := range cfg.Targets {
		ids = append(ids, t.ID())
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Settings []entry  `json:"settings"`
			Targets  []string `json:"targets"`
		}{entries, ids})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		src := e.Source
		if e.Ref != "" {
			src += ", read from " + e.Ref
		}
		fmt.Fprintf(tw, "%s=%s\t# %s\n", e.Key, e.Value, src)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "targets"
	if len(ids) == 1 {
		noun = "target"
	}
	fmt.Fprintf(w, "\n# %d %s\n", len(ids), noun)
	for _, id := range ids {
		fmt.Fprintf(w, "#   %s\n", id)
	}
	return nil
}

// redact hides a secret value. A URL keeps its scheme, user name and host,
// so an operator can tell which endpoint is configured; its password, path
// and query (where webhook tokens live) are replaced.
func redact(v string) string { return secret.Endpoint(v) }

// PrintMonitors prints every monitor of the monitors file with each of
// its settings' effective value and source (built-in default,
// environment key, the file's defaults, its group, the monitor itself).
// Secrets show as written: ${NAME} or the reference, never the value.
func PrintMonitors(w io.Writer, cfg *Config, asJSON bool) error {
	mons := cfg.Monitors
	if mons == nil {
		mons = []Monitor{}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Monitors []Monitor `json:"monitors"`
		}{mons})
	}
	if len(mons) == 0 {
		_, err := fmt.Fprintln(w, "# no monitors file: TARGETS_FILE is unset, or lists no monitors")
		return err
	}
	for i, m := range mons {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := m.ID
		if m.Name != "" && m.Name != m.ID {
			head += " (" + m.Name + ")"
		}
		fmt.Fprintf(w, "%s\t# %s check of %s, %s", head, m.Check, m.Target, m.Where)
		if m.Group != "" {
			fmt.Fprintf(w, ", group %s", m.Group)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range m.Fields {
			fmt.Fprintf(tw, "  %s\t%s\t# %s\n", f.Field, f.Value, f.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
