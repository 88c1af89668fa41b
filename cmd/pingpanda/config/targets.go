package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/probe"
)

// fileTarget is a target read from TARGETS_FILE, with the line it came from.
type fileTarget struct {
	probe.Target
	line int
}

// maxTargetsFile bounds the size of TARGETS_FILE.
const maxTargetsFile = 16 << 20

// readTargetsFile reads a YAML list of targets:
//
//   - {check: http, target: https://example.com/health, name: shop}
//   - check: dns
//     target: example.com
//
// Every bad entry is reported, one per line of the error, as
// "path:line: problem".
func readTargetsFile(path string) ([]fileTarget, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTargetsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxTargetsFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxTargetsFile>>20)
	}
	return parseTargetsYAML(data, path)
}

func parseTargetsYAML(data []byte, path string) ([]fileTarget, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file lists no targets
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.SequenceNode {
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s:%d: want a list of targets (- {check: …, target: …})", path, root.Line)
	}
	var (
		out  []fileTarget
		errs []error
	)
	for _, item := range root.Content {
		var entry struct {
			Check  string `yaml:"check"`
			Target string `yaml:"target"`
			Name   string `yaml:"name"`
		}
		if item.Kind != yaml.MappingNode {
			errs = append(errs, fmt.Errorf("%s:%d: want a mapping with check and target", path, item.Line))
			continue
		}
		if err := decodeStrict(item, &entry); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, item.Line, err))
			continue
		}
		if entry.Check == "" || entry.Target == "" {
			errs = append(errs, fmt.Errorf("%s:%d: both check and target are required", path, item.Line))
			continue
		}
		c, err := probe.ParseCheck(entry.Check)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: check %w", path, item.Line, err))
			continue
		}
		t, err := probe.ParseTarget(c, entry.Target)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s target %w", path, item.Line, c, err))
			continue
		}
		t.Name = entry.Name
		out = append(out, fileTarget{Target: t, line: item.Line})
	}
	return out, errors.Join(errs...)
}

// decodeStrict decodes a mapping node and refuses keys the struct lacks.
func decodeStrict(n *yaml.Node, v any) error {
	allowed := map[string]bool{"check": true, "target": true, "name": true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !allowed[k.Value] {
			return fmt.Errorf("unknown field %q (want check, target, name)", k.Value)
		}
		if val := n.Content[i+1]; val.Kind != yaml.ScalarNode {
			return fmt.Errorf("field %q: want a single value", k.Value)
		}
	}
	return n.Decode(v)
}

// targets gathers the enabled env lists and TARGETS_FILE, in that order,
// dropping repeats of the same target ID with a warning.
func (l *loader) targets() []probe.Target {
	var out []probe.Target
	type first struct{ where, address string }
	seen := map[string]first{}
	add := func(t probe.Target, where string) {
		if prev, dup := seen[t.ID()]; dup {
			if prev.address != t.Address {
				// The ID hides the secrets; two targets that differ
				// only in one would share one state record.
				l.problem("%s: %s: this URL and one in %s differ only in a secret, which target IDs hide, "+
					"so they would share one state record; keep one of them", where, t.ID(), prev.where)
				return
			}
			l.warn("%s: %s is listed again (first in %s); checked once", where, t.ID(), prev.where)
			return
		}
		seen[t.ID()] = first{where, t.Address}
		out = append(out, t)
	}
	lists := []struct {
		enable, key string
		check       probe.Check
	}{
		{"ENABLE_DNS", "DOMAINS", probe.DNS},
		{"ENABLE_PING", "PING_IPS", probe.Ping},
		{"ENABLE_WEBSITE_CHECK", "CHECK_WEBSITE", probe.HTTP},
		{"ENABLE_SSL_CHECK", "SSL_CHECK_DOMAINS", probe.TLS},
	}
	for _, ls := range lists {
		raw := l.list(ls.key)
		if !l.bool(ls.enable) {
			if l.values[ls.key].source != "default" && len(raw) > 0 {
				l.warn("%s is set but %s is false: those targets are not checked", ls.key, ls.enable)
			}
			continue
		}
		if len(raw) == 0 && (l.values[ls.enable].source != "default" || l.values[ls.key].source != "default") {
			l.warn("%s is true but %s is empty: it adds no %s targets", ls.enable, ls.key, ls.check)
		}
		for _, r := range raw {
			t, err := probe.ParseTarget(ls.check, r)
			if err != nil {
				l.problem("%s: %v", ls.key, err)
				continue
			}
			add(t, ls.key)
		}
	}
	if path := l.raw("TARGETS_FILE"); path != "" {
		var (
			ts  []fileTarget
			err error
		)
		switch {
		case !l.targetsRef:
			ts, err = readTargetsFile(path)
		case l.targetsData != nil:
			ts, err = parseTargetsYAML(l.targetsData, path)
		}
		if err != nil {
			l.problems = append(l.problems, prefixLines("TARGETS_FILE: ", err.Error())...)
		}
		for _, ft := range ts {
			add(ft.Target, fmt.Sprintf("%s:%d", path, ft.line))
		}
	}
	return out
}

func prefixLines(prefix, text string) []string {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return lines
}
